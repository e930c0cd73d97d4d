// Serving over TLS: a plain-HTTP request on the TLS port is told so in a 400, and TLS keeps working.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import fs from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { makeTempDir } from './helpers/registry.js';
import { listen } from '../src/server/listen.js';

const exec = promisify(execFile);

test('a plain-HTTP request on the TLS port gets 400 "client sent an HTTP request to an HTTPS server"; HTTPS still answers', async (t) => {
  const dir = await makeTempDir(t);
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { timeout: 30_000 });
  const running = await listen(
    { handler: (_req, res) => res.end('ok') },
    { host: '127.0.0.1', port: 0, tls: { cert: await fs.readFile(cert), key: await fs.readFile(key) } },
  );
  t.after(() => running.close(0));

  const plain = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(running.port, '127.0.0.1');
    let received = '';
    const timer = setTimeout(() => reject(new Error(`no answer: ${received}`)), 10_000);
    socket.on('data', (chunk) => (received += chunk.toString()));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
    socket.write('GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  });
  assert.match(plain, /^HTTP\/1\.1 400 Bad Request\r\n/);
  assert.match(plain, /Docker-Distribution-API-Version: registry\/2\.0/);
  assert.match(plain, /client sent an HTTP request to an HTTPS server/);

  for (let i = 0; i < 2; i++) {
    const body = await new Promise<string>((resolve, reject) => {
      const request = https.get(`${running.url}/v2/`, { rejectUnauthorized: false, timeout: 10_000 }, (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve(text));
      });
      request.on('error', reject);
    });
    assert.equal(body, 'ok');
  }
});
