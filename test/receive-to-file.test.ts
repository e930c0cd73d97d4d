// Receiving a body into a file: every byte lands in order, progress is reported as it is written, and
// a body that is already gone is an error at once, never a wait that does not end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { makeTempDir } from './helpers/registry.js';
import { receiveToFile } from '../src/store/receive-to-file.js';

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
