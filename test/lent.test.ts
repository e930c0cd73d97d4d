// Reused memory on the way out (src/http/lent.ts): a pool takes back only its own buffers, once each;
// the response writer gives a lent chunk back once the socket has its bytes, and a piece cut from one
// is never given back. Then the proxy's blob fetch over a real store and a real upstream: a body many
// times larger than its window passes through a few dozen blocks, and what readers get and what is
// stored stay intact while the blocks are reused under them.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { BufferPool, LentChunk } from '../src/http/lent.js';
import { ChunkPool, writePlan } from '../src/http/response.js';
import { BlobFetch, fetchMemory } from '../src/proxy/blob-fetch.js';
import { fetchContent } from '../src/proxy/read-along.js';
import { http1Request, BLOCK_BYTES } from '../src/proxy/http1.js';
import { FsStore } from '../src/store/store.js';
import { RunningDigest, type HashThread } from '../src/store/running-digest.js';
import type { HasherRequest } from '../src/store/file-hasher.js';
import { parseDigest, type Digest } from '../src/oci/digest.js';
import { makeTempDir } from './helpers/registry.js';
import { holdWrites } from './helpers/proxy.js';
import { randomContent } from './helpers/oci-http.js';

test('a pool reuses what it gave out, takes nothing else back, and each buffer once', () => {
  const pool = new BufferPool(1024, 2);
  const first = pool.take();
  assert.equal(first.length, 1024);
  assert.equal(pool.owns(first.buffer), true);
  pool.give(first.buffer as ArrayBuffer);
  pool.give(first.buffer as ArrayBuffer); // twice: must not be handed out twice
  pool.give(new ArrayBuffer(1024)); // not the pool's
  const again = pool.take();
  assert.equal(again.buffer, first.buffer);
  assert.notEqual(pool.take().buffer, first.buffer);
  assert.equal(pool.made, 2);
  const lent = pool.lendCopy([Buffer.from('abc'), Buffer.from('de')]);
  assert.ok(lent instanceof LentChunk);
  assert.equal(Buffer.from(lent).toString(), 'abcde');
  const piece = lent.subarray(1, 3);
  assert.equal(piece instanceof LentChunk, false, 'a piece cut from a lent chunk is a plain view');
  lent.giveBack();
  lent.giveBack();
  assert.equal(pool.take().buffer, lent.buffer);
  assert.equal(pool.made, 3);
});

test('the response writer gives lent chunks back once sent; pieces of them it leaves alone', async (t) => {
  const pool = new BufferPool(64 << 10, 64);
  const blob = randomContent(2 << 20, 31);
  const server = http.createServer((req, res) => {
    const pieces = req.url === '/pieces';
    const chunks = async function* () {
      for (let at = 0; at < blob.size; at += pool.size) {
        const chunk = pool.lendCopy([blob.bytes.subarray(at, at + pool.size)]);
        yield pieces ? chunk.subarray(0) : chunk; // what a fault's reshaping hands the writer
      }
    };
    void writePlan(res, { status: 200, headers: { 'Content-Length': blob.size }, body: { kind: 'stream', chunks } }, { pool: new ChunkPool(), signal: new AbortController().signal });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const whole = Buffer.from(await (await fetch(`${base}/lent`, { signal: AbortSignal.timeout(10_000) })).arrayBuffer());
  assert.ok(whole.equals(blob.bytes));
  const madeAfterLent = pool.made;
  assert.ok(madeAfterLent < 32, `2 MiB through 64 KiB buffers made ${madeAfterLent}, not one per chunk`);
  assert.equal(pool.take().buffer instanceof ArrayBuffer, true);
  assert.equal(pool.made, madeAfterLent, 'what was sent came back to the pool');
  const pieces = Buffer.from(await (await fetch(`${base}/pieces`, { signal: AbortSignal.timeout(10_000) })).arrayBuffer());
  assert.ok(pieces.equals(blob.bytes));
  const made = pool.made;
  pool.take();
  assert.equal(pool.made, made + 1, 'no chunk the writer never saw whole came back: the pool has no spare left');
});

/** A blob server on 127.0.0.1; it answers a Range from an offset with 206 unless ignoreRange. */
async function serveBlob(t: TestContext, bytes: Buffer, ignoreRange = false): Promise<URL> {
  const server = http.createServer((req, res) => {
    const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    if (from === 0 || ignoreRange) {
      res.writeHead(200, { 'Content-Length': bytes.length });
      res.end(bytes);
      return;
    }
    res.writeHead(206, { 'Content-Length': bytes.length - from, 'Content-Range': `bytes ${from}-${bytes.length - 1}/${bytes.length}` });
    res.end(bytes.subarray(from));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/blob`);
}

/** A fetch of blob from a server on 127.0.0.1, through the bulk transport, into store, with pool. */
async function startFetch(t: TestContext, store: FsStore, pool: BufferPool, blob: { bytes: Buffer; digest: string; size: number }, ignoreRange = false) {
  const url = await serveBlob(t, blob.bytes, ignoreRange);
  // As pull-through.ts opens the upstream: from > 0 when the writes fell behind and go on from there.
  const open = async (from: number) => {
    const headers: Record<string, string> = from > 0 ? { range: `bytes=${from}-` } : {};
    const response = await http1Request(url, 'GET', headers, { connectMs: 5_000, headersMs: 5_000, bodyMs: 10_000, blocks: () => pool.take() });
    const start = response.statusCode === 206 ? from : 0;
    return { size: blob.size - start, body: response.body, start, host: url.host };
  };
  const digest = parseDigest(blob.digest)!;
  return { digest, fetch: new BlobFetch(store, digest, open, pool, () => fetchMemory(1), async () => undefined) };
}

/**
 * Reads a fetch as a response writer does (giveBack: each chunk back once used) or keeping every
 * chunk, pausing after every pauseEvery bytes; the digest of what came, and of the kept chunks at the end.
 */
async function read(fetch: BlobFetch, digest: Digest, giveBack: boolean, pauseEvery: number) {
  const signal = AbortSignal.timeout(60_000);
  const body = (await fetchContent(fetch, digest, true, signal)).body();
  assert.equal(body.kind, 'stream');
  const hash = createHash('sha256');
  const kept: Uint8Array[] = [];
  let sincePause = 0;
  for await (const chunk of body.kind === 'stream' ? body.chunks(signal) : []) {
    hash.update(chunk);
    if (giveBack && chunk instanceof LentChunk) chunk.giveBack();
    else kept.push(chunk);
    if ((sincePause += chunk.length) >= pauseEvery) {
      sincePause = 0;
      await delay(5);
    }
  }
  const again = createHash('sha256');
  for (const chunk of kept) again.update(chunk);
  return { digest: `sha256:${hash.digest('hex')}`, kept: `sha256:${again.digest('hex')}` };
}

test('a blob fetch many times its window passes through a few dozen blocks, readers and store intact', async (t) => {
  const store = await FsStore.open(await makeTempDir(t, 'broken-reg-lent-'));
  t.after(() => store.close());
  const pool = new BufferPool(BLOCK_BYTES, 32);
  const first = randomContent(96 << 20, 32);
  const one = await startFetch(t, store, pool, first);
  assert.equal((await read(one.fetch, one.digest, true, Infinity)).digest, first.digest);
  const stored = await one.fetch.done;
  assert.equal(createHash('sha256').update(await fs.readFile(stored.path)).digest('hex'), one.digest.hex);
  assert.ok(pool.made <= 48, `96 MiB fetched and read through ${pool.made} blocks of 1 MiB`);
  // Two readers at once: a writer, and one that keeps its chunks and reads slowly. A block reused
  // under the second would show in the digest of what it kept.
  const second = randomContent(64 << 20, 33);
  const two = await startFetch(t, store, pool, second);
  const [writer, keeper] = await Promise.all([read(two.fetch, two.digest, true, Infinity), read(two.fetch, two.digest, false, 8 << 20)]);
  assert.equal(writer.digest, second.digest);
  assert.deepEqual(keeper, { digest: second.digest, kept: second.digest }, 'chunks a reader kept still hold their bytes after the fetch');
  await two.fetch.done;
});

test('when the writes fall behind, the second request goes through reused blocks too, Range or not', async (t) => {
  for (const ignoreRange of [false, true]) {
    const dir = await makeTempDir(t, 'broken-reg-lent-');
    const store = await FsStore.open(dir);
    t.after(() => store.close());
    const pool = new BufferPool(BLOCK_BYTES, 32);
    const writes = await holdWrites(t, dir); // a disk that stalls: the writes let go, then go on
    const blob = randomContent(48 << 20, ignoreRange ? 35 : 34);
    const { digest, fetch } = await startFetch(t, store, pool, blob, ignoreRange);
    assert.equal((await read(fetch, digest, true, Infinity)).digest, blob.digest);
    assert.ok(fetch.detachedAt !== undefined && fetch.detachedAt < blob.size, 'the writes let go of the body');
    const made = pool.made;
    writes.open();
    const stored = await fetch.done;
    assert.equal(createHash('sha256').update(await fs.readFile(stored.path)).digest('hex'), digest.hex);
    assert.ok(pool.made - made <= 16, `the rest of 48 MiB written through ${pool.made - made} new blocks (upstream ${ignoreRange ? 'ignoring' : 'honouring'} the Range)`);
  }
});

/**
 * A hashing thread in this thread: it hashes each slab as it is sent, and hands it back at once, or,
 * while held, only once let go (a hashing thread that has fallen behind).
 */
class HeldHashThread implements HashThread {
  held = false;
  /** The most slabs out at once since held. */
  peak = 0;
  private readonly out: ArrayBuffer[] = [];
  private readonly hash = createHash('sha256');
  owner?: RunningDigest;

  send(message: HasherRequest): void {
    if (message.type !== 'bytes') return;
    this.hash.update(new Uint8Array(message.buffer, 0, message.length));
    this.out.push(message.buffer);
    if (this.held) this.peak = Math.max(this.peak, this.out.length);
    else setImmediate(() => this.letGo());
  }

  letGo(): void {
    for (const slab of this.out.splice(0)) this.owner?.returned(slab);
  }

  digest(): Promise<string> {
    return Promise.resolve(this.hash.digest('hex'));
  }

  end(): void {}
  close(): void {}
}

test('the second request is read at the pace of the hash, not ahead of it', async (t) => {
  const dir = await makeTempDir(t, 'broken-reg-lent-');
  const store = await FsStore.open(dir);
  t.after(() => store.close());
  const threads: HeldHashThread[] = [];
  const hashing = Object.assign(Object.create(store) as FsStore, {
    digester: () => {
      const thread = new HeldHashThread();
      threads.push(thread);
      return (thread.owner = new RunningDigest(0, thread));
    },
  });
  const pool = new BufferPool(BLOCK_BYTES, 32);
  const writes = await holdWrites(t, dir);
  const blob = randomContent(48 << 20, 36);
  const { digest, fetch } = await startFetch(t, hashing, pool, blob);
  assert.equal((await read(fetch, digest, true, Infinity)).digest, blob.digest);
  assert.ok(fetch.detachedAt !== undefined && fetch.detachedAt < blob.size - (16 << 20), 'the writes let go of the body early');
  const [thread] = threads;
  assert.ok(thread);
  thread.held = true;
  writes.open();
  // The hash is held: the second request may run only a few slabs ahead of it.
  await delay(500);
  assert.ok(thread.peak > 0, 'the second request reached the hash');
  assert.ok(thread.peak <= 6, `${thread.peak} slabs of 512 KiB out on a hash that is behind`);
  assert.ok(fetch.written < blob.size, 'the rest waits for its hash');
  thread.held = false;
  thread.letGo();
  const stored = await fetch.done;
  assert.equal(createHash('sha256').update(await fs.readFile(stored.path)).digest('hex'), digest.hex);
});
