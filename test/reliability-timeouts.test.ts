// Slow and abandoned uploads: sessions nobody touches are expired (expireUploads, Uploads.startExpiry),
// a request body that stalls is cut with a 408 after an idle timeout and leaves nothing partial, and a
// request head sent byte by byte is cut after the head timeout. Small timeouts are injected throughout.
import { UploadUnknown } from '../src/store/errors.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { FsStore } from '../src/store/store.js';
import { Uploads, expireUploads, DEFAULT_UPLOAD_TIMEOUT_MS } from '../src/store/uploads.js';
import { buildRegistry } from '../src/server/build.js';
import { listen, type Timeouts } from '../src/server/listen.js';
import { resolveServeConfig } from '../src/config.js';
import { makeTempDir, startRegistry, type TestRegistry } from './helpers/registry.js';
import { REPO, call, expectError, randomContent } from './helpers/oci-http.js';
import { tmpEntries, until } from './helpers/integrity.js';

const HOUR = 60 * 60 * 1000;

async function* bytes(data: Buffer): AsyncIterable<Uint8Array> {
  yield data;
}

test('expireUploads removes sessions untouched for longer than the timeout, crash leftovers included, and nothing else', async (t) => {
  const storeDir = await makeTempDir(t);
  const store = await FsStore.open(storeDir);
  let now = new Date();
  const uploads = new Uploads(store, () => now, { timeoutMs: HOUR });
  assert.equal(new Uploads(store).timeoutMs, DEFAULT_UPLOAD_TIMEOUT_MS);
  const idle = await uploads.start(REPO);
  const busy = await uploads.start(REPO);
  await uploads.append(REPO, busy, bytes(Buffer.from('some bytes')));
  // A session a crash cut short before its info.json was written, and something that is no session.
  const crashed = '0a0b0c0d-0000-4000-8000-000000000001';
  await fs.mkdir(path.join(storeDir, 'uploads', crashed));
  await fs.mkdir(path.join(storeDir, 'uploads', 'not-a-session'));

  now = new Date(Date.now() + 30 * 60 * 1000);
  assert.deepEqual(await uploads.expire(), [], 'nothing is older than an hour yet');
  now = new Date(Date.now() + 2 * HOUR);
  assert.deepEqual((await uploads.expire()).sort(), [busy, crashed, idle].sort());
  assert.deepEqual(await fs.readdir(path.join(storeDir, 'uploads')), ['not-a-session']);
  await assert.rejects(uploads.size(REPO, idle), UploadUnknown);

  // The free function, as a maintenance job would call it: the same rule on a given clock.
  const later = await uploads.start(REPO);
  assert.deepEqual(await expireUploads(store, HOUR, new Date(Date.now() + HOUR / 2)), []);
  assert.deepEqual(await expireUploads(store, HOUR, new Date(Date.now() + 2 * HOUR)), [later]);
});

test('an upload session expires once untouched for the timeout, over HTTP, while one that keeps receiving chunks lives on', async (t) => {
  const registry = await startRegistry(t);
  const uploads = new Uploads(registry.deps.store as FsStore, () => new Date(), { timeoutMs: 600 });
  registry.deps.uploads = uploads;
  const stop = uploads.startExpiry(25);
  t.after(stop);

  const start = async () => {
    const response = await call(registry, `/v2/${REPO}/blobs/uploads/`, { method: 'POST' });
    assert.equal(response.status, 202);
    return response.headers.get('location') ?? '';
  };
  const abandoned = await start();
  const active = await start();
  const blob = randomContent(12 * 1000, 601);
  let sent = 0;
  const sendChunk = async () => {
    const chunk = blob.bytes.subarray(sent, sent + 1000);
    const response = await call(registry, active, {
      method: 'PATCH',
      headers: { 'Content-Range': `${sent}-${sent + chunk.length - 1}`, 'Content-Type': 'application/octet-stream' },
      body: chunk,
    });
    assert.equal(response.status, 202);
    sent += chunk.length;
  };
  // The active session gets a chunk every 100 ms for 1.1 s, well past the 600 ms timeout.
  while (sent < blob.size - 1000) {
    await sendChunk();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await expectError(await call(registry, abandoned), 404, 'BLOB_UPLOAD_UNKNOWN');
  await sendChunk();
  const done = await call(registry, `${active}?digest=${blob.digest}`, { method: 'PUT' });
  assert.equal(done.status, 201, 'the session that kept receiving chunks completes');

  const forgotten = await start();
  assert.ok(await until(async () => (await fs.readdir(path.join(registry.storeDir, 'uploads'))).length === 0, 5_000), 'expired and removed from disk');
  await expectError(await call(registry, forgotten), 404, 'BLOB_UPLOAD_UNKNOWN');
});

/** A registry on a server with the given (small) timeouts. */
async function startWithTimeouts(t: TestContext, timeouts: Partial<Timeouts>): Promise<TestRegistry> {
  const storeDir = await makeTempDir(t);
  const config = resolveServeConfig({ store: storeDir, port: '0' }, {});
  const { app, deps } = await buildRegistry({ config, log: () => undefined });
  const server = await listen(app, { host: '127.0.0.1', port: 0, timeouts });
  t.after(() => server.close(0));
  return { url: server.url, host: `127.0.0.1:${server.port}`, port: server.port, storeDir, deps, logs: [], server, stop: () => server.close(0) };
}

interface Exchange {
  answer: string;
  /** Milliseconds from the last byte sent to the server closing the connection. */
  closedAfterMs: number;
}

/**
 * Sends head and then the body parts with pauses between them, and reads what comes back until the
 * server closes the connection (bounded: 10 s).
 */
async function exchange(registry: TestRegistry, parts: (Buffer | string)[], pauseMs: number): Promise<Exchange> {
  const socket = net.connect(registry.port, '127.0.0.1');
  socket.setTimeout(10_000, () => socket.destroy(new Error('the server neither answered nor closed the connection')));
  const chunks: Buffer[] = [];
  let lastSent = Date.now();
  const closed = new Promise<Exchange>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => (chunks.length > 0 || (error as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(error)));
    socket.on('close', () => resolve({ answer: Buffer.concat(chunks).toString('latin1'), closedAfterMs: Date.now() - lastSent }));
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  for (const part of parts) {
    if (socket.destroyed) break;
    socket.write(part);
    lastSent = Date.now();
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return closed;
}

function statusOf(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3}) /.exec(answer)?.[1] ?? 0);
}

function envelopeCode(answer: string): string {
  const body = answer.slice(answer.indexOf('\r\n\r\n') + 4);
  return (JSON.parse(body) as { errors: { code: string }[] }).errors[0]?.code ?? '';
}

test('a request body that stalls is cut after the idle timeout with a 408, and nothing partial is kept', async (t) => {
  const registry = await startWithTimeouts(t, { bodyIdleMs: 500, headersMs: 2_000 });
  const blob = randomContent(1024 * 1024, 602);
  const head = (method: string, target: string, length: number, extra = '') =>
    `${method} ${target} HTTP/1.1\r\nHost: ${registry.host}\r\nContent-Type: application/octet-stream\r\n${extra}Content-Length: ${length}\r\n\r\n`;

  // A monolithic push that stops after 100 KB.
  const monolithic = await exchange(registry, [head('POST', `/v2/${REPO}/blobs/uploads/?digest=${blob.digest}`, blob.size), blob.bytes.subarray(0, 100_000)], 20);
  assert.equal(statusOf(monolithic.answer), 408, monolithic.answer.slice(0, 200));
  assert.equal(envelopeCode(monolithic.answer), 'TIMEOUT');
  assert.match(monolithic.answer, /Docker-Distribution-API-Version: registry\/2\.0/i);
  assert.ok(monolithic.closedAfterMs >= 400 && monolithic.closedAfterMs < 4_000, `cut after ${monolithic.closedAfterMs} ms`);
  assert.ok(await until(async () => (await tmpEntries(registry.storeDir)).length === 0, 3_000), 'the temp file is removed');
  assert.equal((await call(registry, `/v2/${REPO}/blobs/${blob.digest}`, { method: 'HEAD' })).status, 404);

  // A PATCH that stalls: the session keeps exactly what it had before that chunk.
  const start = await call(registry, `/v2/${REPO}/blobs/uploads/`, { method: 'POST' });
  const location = start.headers.get('location') ?? '';
  const first = await call(registry, location, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body: blob.bytes.subarray(0, 1000) });
  assert.equal(first.status, 202);
  const patch = await exchange(registry, [head('PATCH', location, 100_000, 'Content-Range: 1000-100999\r\n'), blob.bytes.subarray(1000, 11_000)], 20);
  assert.equal(statusOf(patch.answer), 408);
  assert.ok(
    await until(async () => (await call(registry, location)).headers.get('range') === '0-999', 3_000),
    'the session is back to the bytes before the stalled chunk',
  );

  // A body that trickles in (a piece every 100 ms, under the 500 ms idle timeout) is not cut, however long.
  const small = randomContent(2_000, 603);
  const pieces = Array.from({ length: 10 }, (_, i) => small.bytes.subarray(i * 200, (i + 1) * 200));
  const trickle = await exchange(registry, [head('POST', `/v2/${REPO}/blobs/uploads/?digest=${small.digest}`, small.size, 'Connection: close\r\n'), ...pieces], 100);
  assert.equal(statusOf(trickle.answer), 201, trickle.answer.slice(0, 300));

  // Waiting for a slow response is not an idle body: broken/timeout answers after 700 ms, uncut, also
  // when the request carried a (complete, never read) body.
  const slow = await call(registry, '/v2/broken/timeout/manifests/dur-700ms');
  assert.equal(slow.status, 408);
  assert.equal((await slow.json()).errors[0].message, 'Timeout duration has elapsed!');
  const slowWithBody = await exchange(registry, [head('GET', '/v2/broken/timeout/manifests/dur-1s', 5, 'Connection: close\r\n'), Buffer.from('hello')], 20);
  assert.equal(statusOf(slowWithBody.answer), 408);
  assert.match(slowWithBody.answer, /Timeout duration has elapsed!/, 'answered by the scenario, not cut as an idle body');
});

test('a request head sent byte by byte is cut after the head timeout with a 408, and the server keeps serving', async (t) => {
  const registry = await startWithTimeouts(t, { headersMs: 500, bodyIdleMs: 300 });
  const head = `GET /v2/ HTTP/1.1\r\nHost: ${registry.host}\r\nX-Slow: ${'s'.repeat(200)}\r\n\r\n`;
  const started = Date.now();
  const loris = await exchange(registry, [...head], 40);
  const elapsed = Date.now() - started;
  assert.equal(statusOf(loris.answer), 408, loris.answer.slice(0, 200));
  assert.equal(envelopeCode(loris.answer), 'TIMEOUT');
  assert.ok(elapsed >= 450 && elapsed < 4_000, `cut after ${elapsed} ms`);
  const alive = await call(registry, '/v2/');
  assert.equal(alive.status, 200);
});
