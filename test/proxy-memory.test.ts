// The proxy's cold path for blobs larger than its read-along memory (6 MiB at most): a reader that keeps up
// and one that stalls (and so falls back to the temp file) both get exactly the bytes of the digest;
// a slow chunked upstream streams; a corrupt body never completes and leaves nothing behind; a client
// is fed as the bytes arrive even while the store's writes stall.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { eventually, randomContent } from './helpers/oci-http.js';
import { gate, pull, startFront, startProxy, type Front } from './helpers/proxy.js';
import { parseDigest } from '../src/oci/digest.js';

const SIZE = 48 << 20;

const proxyFor = (t: Parameters<typeof startFront>[0], front: Front) =>
  startProxy(t, { flags: { upstream: front.host, upstreamInsecure: [front.host] } });

/** Reads a body, pausing now and then so the fetch runs far ahead; returns its sha256 and length. */
async function slowDigest(body: ReadableStream<Uint8Array>, pauseEvery: number): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  let sincePause = 0;
  for await (const chunk of body) {
    hash.update(chunk);
    size += chunk.length;
    sincePause += chunk.length;
    if (sincePause >= pauseEvery) {
      sincePause = 0;
      await delay(20);
    }
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

test('a large blob reaches a fast and a stalling reader intact, and is stored', async (t) => {
  const blob = randomContent(SIZE, 21);
  const front = await startFront(t, (_req, res) => {
    res.writeHead(200, { 'Content-Length': blob.size, 'Content-Type': 'application/octet-stream' });
    res.end(blob.bytes);
  });
  const proxy = await proxyFor(t, front);
  const url = `${proxy.url}/v2/big/blobs/${blob.digest}`;
  const [fast, slow] = await Promise.all([0, 1].map(() => fetch(url, { signal: AbortSignal.timeout(60_000) })));
  assert.equal(fast?.status, 200);
  assert.equal(slow?.status, 200);
  const results = await Promise.all([slowDigest(fast!.body!, Infinity), slowDigest(slow!.body!, 4 << 20)]);
  for (const result of results) assert.deepEqual(result, { digest: blob.digest, size: blob.size });
  const digest = parseDigest(blob.digest)!;
  assert.ok(await eventually(async () => Boolean(await proxy.deps.store.repositoryBlob('big', digest))));
  assert.equal(createHash('sha256').update(await fs.readFile((await proxy.deps.store.blob(digest))?.path ?? '')).digest('hex'), digest.hex);
});

test('a large blob the upstream sends chunked, slowly, streams and is stored', async (t) => {
  const blob = randomContent(20 << 20, 22);
  const front = await startFront(t, async (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
    for (let at = 0; at < blob.size; at += 1 << 20) {
      res.write(blob.bytes.subarray(at, at + (1 << 20)));
      await delay(2);
    }
    res.end();
  });
  const proxy = await proxyFor(t, front);
  const { response, body } = await pull(proxy, `/v2/chunked/blobs/${blob.digest}`);
  assert.equal(response.status, 200);
  assert.ok(body.equals(blob.bytes));
});

test('a large corrupt upstream body is refused and leaves nothing behind', async (t) => {
  // Twice the window, and no more than the writes may fall behind (12 MiB): they cannot let go of the
  // body, so the client gets its last byte only once checked (proxy-behind has the case where they do).
  const blob = randomContent(12 << 20, 23);
  const corrupt = Buffer.from(blob.bytes);
  corrupt[corrupt.length - 5] = (corrupt[corrupt.length - 5] ?? 0) ^ 0xff;
  const front = await startFront(t, (_req, res) => {
    res.writeHead(200, { 'Content-Length': corrupt.length, 'Content-Type': 'application/octet-stream' });
    res.end(corrupt);
  });
  const proxy = await proxyFor(t, front);
  const response = await fetch(`${proxy.url}/v2/bad/blobs/${blob.digest}`, { signal: AbortSignal.timeout(60_000) });
  // Headers went out before the end was known: the body must not complete.
  await assert.rejects(response.arrayBuffer());
  assert.ok(await eventually(async () => (await fs.readdir(path.join(proxy.storeDir, 'tmp'))).length === 0));
  assert.equal(await proxy.deps.store.blob(parseDigest(blob.digest)!), undefined);
});

test('a client gets the bytes as they come from the upstream while writes to the store are held', async (t) => {
  const blob = randomContent(6 << 20, 24);
  const front = await startFront(t, (_req, res) => {
    res.writeHead(200, { 'Content-Length': blob.size, 'Content-Type': 'application/octet-stream' });
    res.end(blob.bytes);
  });
  const proxy = await proxyFor(t, front);
  // Every file write of this process waits for the gate: the store is as slow as a disk that stalls.
  const writes = gate();
  const probe = await fs.open(path.join(proxy.storeDir, 'probe'), 'w');
  const fileHandle = Object.getPrototypeOf(probe) as { writev: (...args: unknown[]) => Promise<unknown> };
  await probe.close();
  const writev = fileHandle.writev;
  fileHandle.writev = async function (this: unknown, ...args: unknown[]) {
    await writes.opened;
    return writev.apply(this, args);
  };
  t.after(() => {
    fileHandle.writev = writev;
  });
  const response = await fetch(`${proxy.url}/v2/held/blobs/${blob.digest}`, { signal: AbortSignal.timeout(20_000) });
  assert.equal(response.status, 200);
  const reader = response.body!.getReader();
  const first = await Promise.race([reader.read(), delay(5_000).then(() => undefined)]);
  assert.ok(first?.value && first.value.length > 0, 'bytes reach the client before any write to the store completes');
  assert.deepEqual(Buffer.from(first.value), blob.bytes.subarray(0, first.value.length));
  writes.open();
  const chunks: Uint8Array[] = [first.value];
  for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
  assert.ok(Buffer.concat(chunks).equals(blob.bytes));
  const digest = parseDigest(blob.digest)!;
  assert.ok(await eventually(async () => Boolean(await proxy.deps.store.repositoryBlob('held', digest))));
});
