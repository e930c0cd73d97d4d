// Receiving a body into a file: every byte lands in order, progress is reported as it is written, and
// a body that is already gone is an error at once, never a wait that does not end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomFillSync } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { markAsUntransferable } from 'node:worker_threads';
import { makeTempDir } from './helpers/registry.js';
import { planWrites, receiveToFile } from '../src/store/receive-to-file.js';
import { chunkFreer, ownedByReader } from '../src/store/owned-chunks.js';

async function openTemp(t: Parameters<typeof makeTempDir>[0]) {
  const file = path.join(await makeTempDir(t), 'data');
  const handle = await fs.open(file, 'w+');
  t?.after(() => handle.close().catch(() => undefined));
  return { file, handle };
}

test('a body is written whole at the position, and each written range is reported with its chunks', async (t) => {
  const { file, handle } = await openTemp(t);
  await handle.write(Buffer.from('head'), 0, 4, 0);
  const chunks = Array.from({ length: 40 }, () => randomBytes(100_000));
  const reports: { end: number; bytes: number }[] = [];
  const received = await receiveToFile(Readable.from(chunks), handle, 4, (end, written) => {
    reports.push({ end, bytes: written.reduce((sum, chunk) => sum + chunk.length, 0) });
  });
  assert.equal(received, 4_000_000);
  assert.deepEqual(await fs.readFile(file), Buffer.concat([Buffer.from('head'), ...chunks]));
  let end = 4;
  for (const report of reports) {
    end += report.bytes;
    assert.equal(report.end, end, 'reports follow each other without a gap');
  }
  assert.equal(end, 4_000_004);
});

test('a body already destroyed, with or without an error, rejects at once', { timeout: 10_000 }, async (t) => {
  const { handle } = await openTemp(t);
  const failed = new PassThrough();
  failed.on('error', () => undefined);
  failed.destroy(new Error('connection reset'));
  await new Promise((resolve) => setImmediate(resolve)); // its 'error' and 'close' are emitted now
  await assert.rejects(receiveToFile(failed, handle, 0), /connection reset/);

  const closed = new PassThrough();
  closed.write('some');
  closed.destroy();
  await new Promise((resolve) => setImmediate(resolve));
  await assert.rejects(receiveToFile(closed, handle, 0), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
});

test('a body cut off half-way rejects, after the bytes before it are written', async (t) => {
  const { handle } = await openTemp(t);
  const body = new PassThrough();
  const receiving = receiveToFile(body, handle, 0);
  body.write(randomBytes(50_000));
  setTimeout(() => body.destroy(new Error('upstream went away')), 20);
  await assert.rejects(receiving, /upstream went away/);
});

test('chunks larger and smaller than one write land whole and in order', async (t) => {
  const { file, handle } = await openTemp(t);
  const sizes = [3_000_000, 1, 524_288, 524_289, 70_000, 2_000_001, 17];
  const chunks = sizes.map((size) => randomBytes(size));
  const received = await receiveToFile(Readable.from(chunks), handle, 0);
  assert.equal(received, sizes.reduce((sum, size) => sum + size, 0));
  assert.deepEqual(await fs.readFile(file), Buffer.concat(chunks));
});

test("a stream marked as its reader's has its chunks freed once written; other sources keep theirs", async (t) => {
  const wholeChunks = () => Array.from({ length: 64 }, () => randomFillSync(Buffer.allocUnsafeSlow(65_536)));
  const shared = randomFillSync(Buffer.allocUnsafeSlow(200_000));
  const sharedBefore = Buffer.from(shared);
  const part = shared.subarray(50_000, 150_000); // a view of part of a buffer: never freed

  const owned = wholeChunks();
  const expected = Buffer.concat([...owned, part]);
  const before = process.memoryUsage().arrayBuffers;
  const { file, handle } = await openTemp(t);
  let reported = 0;
  const received = await receiveToFile(ownedByReader(Readable.from([...owned, part])), handle, 0, (_end, chunks) => {
    for (const chunk of chunks) reported += chunk.byteLength; // still whole while written() runs
  });
  const after = process.memoryUsage().arrayBuffers;
  assert.equal(received, expected.length);
  assert.equal(reported, expected.length);
  assert.deepEqual(await fs.readFile(file), expected);
  assert.ok(owned.every((chunk) => chunk.byteLength === 0), 'every whole chunk is detached');
  assert.ok(before - after >= 3 * 2 ** 20, `and its memory is gone while the test still holds the chunks (${before} -> ${after})`);
  assert.deepEqual(shared, sharedBefore, 'a buffer shared with a part written is left whole');

  const kept = wholeChunks();
  const other = await openTemp(t);
  await receiveToFile(Readable.from(kept), other.handle, 0);
  assert.ok(kept.every((chunk) => chunk.byteLength === 65_536), 'an unmarked stream keeps its chunks');
  const iterated = wholeChunks();
  await receiveToFile(ownedByReader((async function* () { yield* iterated; })()), other.handle, 0);
  assert.ok(iterated.every((chunk) => chunk.byteLength === 65_536), 'so does a marked source that is not a stream');
});

test('chunks that cannot be transferred are left as they are, beside the ones freed, without an error', () => {
  const free = chunkFreer();
  const movable = Buffer.allocUnsafeSlow(1_024);
  const untransferable = Buffer.allocUnsafeSlow(1_024);
  markAsUntransferable(untransferable.buffer);
  const shared = new Uint8Array(new SharedArrayBuffer(1_024));
  const detached = Buffer.allocUnsafeSlow(1_024);
  structuredClone(detached.buffer, { transfer: [detached.buffer] });
  free([detached, movable, untransferable, shared]);
  assert.equal(movable.byteLength, 0, 'freed beside a chunk already detached');
  assert.equal(untransferable.byteLength, 1_024);
  assert.equal(shared.byteLength, 1_024);
});

test('a write that fails rejects the body with the error', async (t) => {
  const { file, handle } = await openTemp(t);
  await handle.close();
  const readOnly = await fs.open(file, 'r');
  t.after(() => readOnly.close().catch(() => undefined));
  await assert.rejects(receiveToFile(Readable.from([randomBytes(2_000_000)]), readOnly, 0), { code: 'EBADF' });
});

test('a batch is cut into consecutive writes of at most the size, and nothing is lost or repeated', () => {
  const buffers = [Buffer.alloc(10, 1), Buffer.alloc(3, 2), Buffer.alloc(25, 3), Buffer.alloc(0), Buffer.alloc(4, 4)];
  const writes = planWrites(buffers, 100, 8);
  assert.deepEqual(
    writes.map((write) => write.position),
    [100, 108, 116, 124, 132, 140],
  );
  for (const write of writes) assert.ok(write.buffers.reduce((sum, buffer) => sum + buffer.length, 0) <= 8);
  assert.deepEqual(Buffer.concat(writes.flatMap((write) => write.buffers)), Buffer.concat(buffers));
  assert.deepEqual(planWrites([], 5, 8), []);
  const whole = Buffer.alloc(8, 9);
  assert.equal(planWrites([whole], 0, 8)[0]?.buffers[0], whole, 'a buffer that fits is written as it is, not copied');
});
