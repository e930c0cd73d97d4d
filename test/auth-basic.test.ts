// serve --auth basic (htpasswd, bcrypt), the serve flags' errors, and the realm's scheme under TLS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { makeTempDir, OFFLINE_PROXY } from './helpers/registry.js';
import { expectError, ociImage } from './helpers/oci-http.js';
import { runCli } from './helpers/cli.js';
import { basic, callAs, challengeOf, htpasswdFile, pushImageAs, startAuthRegistry, USERS } from './helpers/auth.js';
import { buildRegistry } from '../src/server/build.js';
import { listen } from '../src/server/listen.js';
import { resolveServeConfig } from '../src/config.js';
import { parseHtpasswd } from '../src/auth/htpasswd.js';

const NAME = 'broken/prepared/basic/app';

test('basic: htpasswd users push and pull, anonymous clients pull, wrong passwords are refused', async (t) => {
  const registry = await startAuthRegistry(t, { mode: 'basic' });
  const ping = await callAs(registry, undefined, '/v2/');
  await expectError(ping, 401, 'UNAUTHORIZED');
  assert.deepEqual(challengeOf(ping), { scheme: 'basic', params: { realm: 'broken-reg' } });
  const alice = basic('alice', USERS.alice);
  assert.equal((await callAs(registry, alice, '/v2/')).status, 200);
  const image = ociImage({ seed: 11 });
  await pushImageAs(registry, alice, NAME, 'v1', image);
  assert.equal((await callAs(registry, undefined, `/v2/${NAME}/manifests/v1`)).status, 200, 'anonymous pull');
  const anonymousPush = await callAs(registry, undefined, `/v2/${NAME}/blobs/uploads/`, { method: 'POST' });
  await expectError(anonymousPush, 401, 'UNAUTHORIZED');
  assert.equal(challengeOf(anonymousPush).scheme, 'basic');
  for (const wrong of [basic('alice', 'nope'), basic('mallory', USERS.alice), basic('alice', `${USERS.alice}x`), 'Basic !!!']) {
    const refused = await callAs(registry, wrong, `/v2/${NAME}/manifests/v1`);
    const error = await expectError(refused, 401, 'UNAUTHORIZED');
    assert.match(error.message, /wrong username or password/);
  }
  // Remembered after the first bcrypt check, and still right the second time.
  assert.equal((await callAs(registry, basic('bob', USERS.bob), `/v2/${NAME}/manifests/v1`)).status, 200);
  assert.equal((await callAs(registry, basic('bob', USERS.bob), `/v2/${NAME}/manifests/v1`)).status, 200);
  const text = JSON.stringify(registry.logs);
  assert.ok(!text.includes(USERS.alice) && !text.includes(alice.slice(6)), 'no credentials in the log');
});

test('basic: --auth-anonymous none refuses anonymous pulls', async (t) => {
  const registry = await startAuthRegistry(t, { mode: 'basic', anonymous: 'none' });
  await pushImageAs(registry, basic('bob', USERS.bob), NAME, 'v1', ociImage({ seed: 12 }));
  await expectError(await callAs(registry, undefined, `/v2/${NAME}/manifests/v1`), 401, 'UNAUTHORIZED');
  assert.equal((await callAs(registry, basic('bob', USERS.bob), `/v2/${NAME}/manifests/v1`)).status, 200);
});

test('htpasswd: bcrypt entries only, each problem one line naming the line', () => {
  assert.equal(parseHtpasswd('a:$2y$05$uAntBsf/2sM09/5NPM99oeQ/6CH7/QSfjXML6cXcaHi70KtKQ6JRC\n\n# comment\n').size, 1);
  assert.throws(() => parseHtpasswd('a:$apr1$abc$def\n'), /^Error: line 1: the entry for "a" is not bcrypt \(write it with htpasswd -B\)$/);
  assert.throws(() => parseHtpasswd('a:$2y$05$uAntBsf/2sM09/5NPM99oeQ/6CH7/QSfjXML6cXcaHi70KtKQ6JRC\nnocolon\n'), /line 2: not "user:hash"/);
  assert.throws(() => parseHtpasswd('\n'), /no users/);
});

test('serve: a bad --htpasswd or --token-key fails with one line; bad auth flags are usage errors', async (t) => {
  const dir = await makeTempDir(t);
  const md5 = path.join(dir, 'md5');
  await promisify(execFile)('htpasswd', ['-cbm', md5, 'alice', 'pw'], { timeout: 15_000 });
  const store = path.join(dir, 'store');
  const cases: [string[], RegExp, number][] = [
    [['--auth', 'basic', '--htpasswd', md5], /--htpasswd .*md5: line 1: the entry for "alice" is not bcrypt/, 1],
    [['--auth', 'token', '--htpasswd', path.join(dir, 'missing')], /--htpasswd .*missing: ENOENT/, 1],
    [['--auth', 'token', '--token-key', md5], /--token-key .*: not a PEM private key/, 1],
    [['--auth', 'basic'], /--auth basic needs --htpasswd/, 2],
    [['--auth', 'sso'], /--auth/, 2],
    [['--auth-anonymous', 'push'], /--auth-anonymous/, 2],
    [['--htpasswd', md5], /--htpasswd needs --auth basic or --auth token/, 2],
  ];
  for (const [args, message, code] of cases) {
    const result = await runCli(['serve', '--port', '0', '--store', store, ...args], { timeoutMs: 15_000 });
    assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
    const lines = result.stderr.trim().split('\n').filter((line) => !line.startsWith('(run with'));
    assert.equal(lines.length, 1, `one line for ${args.join(' ')}: ${result.stderr}`);
    assert.match(lines[0] ?? '', message);
  }
});

test('token under TLS: the challenge names an https realm, which answers', async (t) => {
  const dir = await makeTempDir(t);
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { timeout: 30_000 });
  const htpasswd = await htpasswdFile(t, USERS);
  const config = { ...resolveServeConfig({ store: path.join(dir, 'store'), port: '0', auth: 'token', htpasswd }, {}), proxy: OFFLINE_PROXY };
  const registry = await buildRegistry({ config, log: () => undefined });
  const server = await listen(registry.app, { host: '127.0.0.1', port: 0, tls: { cert: await fs.readFile(cert), key: await fs.readFile(key) } });
  t.after(async () => {
    await server.close(0);
    await registry.close();
  });
  const get = (url: string) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
      https.get(url, { rejectUnauthorized: false, timeout: 5000 }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      }).on('error', reject);
    });
  const ping = await get(`${server.url}/v2/broken/error/manifests/401`);
  assert.equal(ping.status, 401);
  const realm = /realm="([^"]+)"/.exec(String(ping.headers['www-authenticate']))?.[1] ?? '';
  assert.equal(realm, `https://127.0.0.1:${server.port}/token`);
  const token = await get(`${realm}?scope=repository:broken/error:pull&service=broken-reg`);
  assert.equal(token.status, 200);
  const scenario = await new Promise<string>((resolve, reject) => {
    https.get(`${server.url}/v2/broken/error/manifests/401`, { rejectUnauthorized: false, timeout: 5000, headers: { Authorization: `Bearer ${(JSON.parse(token.body) as { token: string }).token}` } }, (response) => {
      resolve(String(response.headers['www-authenticate']));
      response.resume();
    }).on('error', reject);
  });
  assert.match(scenario, new RegExp(`^Bearer realm="https://127\\.0\\.0\\.1:${server.port}/token"`), 'broken/error:401 says https under TLS');
});
