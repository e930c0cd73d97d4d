// The hashing thread behind every stored blob: it hashes exactly the bytes reported written, reports
// failures instead of a wrong digest, stops when idle, and never keeps a command alive for nothing.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeTempDir } from './helpers/registry.js';
import { FileHasher } from '../src/store/file-hasher.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A file holding content in a temp dir, and a hasher closed after the test. */
async function fileAndHasher(t: TestContext, content: string, idleMs?: number) {
  const file = path.join(await makeTempDir(t), 'blob');
  await fs.writeFile(file, content);
  const hasher = new FileHasher(idleMs);
  t.after(() => hasher.close());
  return { file, hasher };
}

test('a file hashed range by range as it is written gives the digest of its bytes', async (t) => {
  const dir = await makeTempDir(t);
  const file = path.join(dir, 'blob');
  const bytes = randomBytes(3 * 1024 * 1024 + 17);
  const hasher = new FileHasher();
  t.after(() => hasher.close());
  const handle = await fs.open(file, 'wx');
  const job = hasher.start(file, 'sha256');
  for (let at = 0; at < bytes.length; at += 700_001) {
    const end = Math.min(bytes.length, at + 700_001);
    await handle.write(bytes.subarray(at, end), 0, end - at, at);
    job.written(end);
  }
  await handle.close();
  assert.equal(await job.digest(bytes.length), sha256(bytes));

  // Bytes past the end asked for are not hashed; a start offset skips the bytes before it.
  assert.equal(await hasher.start(file, 'sha256').digest(1000), sha256(bytes.subarray(0, 1000)));
  assert.equal(await hasher.start(file, 'sha256', 1000).digest(5000), sha256(bytes.subarray(1000, 5000)));
  const sha512 = createHash('sha512').update(bytes).digest('hex');
  assert.equal(await hasher.start(file, 'sha512').digest(bytes.length), sha512);
});

test('a missing or short file is an error, never a digest of what happened to be there', async (t) => {
  const dir = await makeTempDir(t);
  const hasher = new FileHasher();
  t.after(() => hasher.close());
  await assert.rejects(hasher.start(path.join(dir, 'missing'), 'sha256').digest(10), /hashing failed: .*ENOENT/);

  const file = path.join(dir, 'short');
  await fs.writeFile(file, 'twelve bytes');
  await assert.rejects(hasher.start(file, 'sha256').digest(13), /hashing failed: the file ended at 12, before 13/);
  const job = hasher.start(file, 'sha256');
  job.written(100); // more than there is: the error waits for the digest
  await assert.rejects(job.digest(100), /the file ended at 12/);

  const closed = hasher.start(file, 'sha256');
  closed.close();
  await assert.rejects(closed.digest(12), /already ended/);
  // The hasher still works after all of that.
  assert.equal(await hasher.start(file, 'sha256').digest(12), sha256(Buffer.from('twelve bytes')));
});

test('jobs left open between writes hold no file open', async (t) => {
  const { file, hasher } = await fileAndHasher(t, 'abc');
  const open = Array.from({ length: 300 }, () => hasher.start(file, 'sha256'));
  for (const job of open) job.written(3);
  // The worker takes messages in order: once this digest is back, every range above is hashed.
  assert.equal(await hasher.start(file, 'sha256').digest(3), sha256(Buffer.from('abc')));
  const holding = [];
  for (const fd of await fs.readdir('/proc/self/fd')) {
    const target = await fs.readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target === file) holding.push(fd);
  }
  assert.deepEqual(holding, [], 'descriptors on the file');
  await fs.appendFile(file, 'def');
  assert.equal(await open[0]?.digest(6), sha256(Buffer.from('abcdef')), 'a job continues where it was');
  for (const job of open) job.close();
});

test('an idle hasher stops its thread and starts another for the next job', async (t) => {
  const { file, hasher } = await fileAndHasher(t, 'content', 50);
  const threads = () => (hasher as unknown as { worker?: object }).worker;
  assert.equal(await hasher.start(file, 'sha256').digest(7), sha256(Buffer.from('content')));
  assert.ok(threads(), 'a thread while working');
  const open = hasher.start(file, 'sha256');
  await sleep(200);
  assert.ok(threads(), 'an open job keeps its thread');
  open.close();
  for (let i = 0; i < 100 && threads(); i++) await sleep(20);
  assert.equal(threads(), undefined, 'stopped when idle');
  assert.equal(await hasher.start(file, 'sha256', 3).digest(7), sha256(Buffer.from('tent')));
});

test('a hashing thread that dies fails its jobs, and the next job gets a new thread', async (t) => {
  const { file, hasher } = await fileAndHasher(t, 'content');
  const thread = () => (hasher as unknown as { worker?: { terminate(): Promise<number> } }).worker;
  const open = hasher.start(file, 'sha256');
  open.written(7);
  await thread()?.terminate();
  await assert.rejects(open.digest(7), /the hashing thread stopped/);
  open.written(7); // a job of the dead thread is ignored, not an error
  assert.equal(await hasher.start(file, 'sha256').digest(7), sha256(Buffer.from('content')));
});

test('a process waits for a digest it awaits, and does not wait for a job left open', async (t) => {
  const dir = await makeTempDir(t);
  const file = path.join(dir, 'blob');
  await fs.writeFile(file, 'abc');
  const module = new URL('../src/store/file-hasher.js', import.meta.url).href;
  const script = `
    import { FileHasher } from ${JSON.stringify(module)};
    const hasher = new FileHasher();
    const left = hasher.start(${JSON.stringify(file)}, 'sha256');
    left.written(3);
    console.log(await hasher.start(${JSON.stringify(file)}, 'sha256').digest(3));
  `;
  const entry = path.join(dir, 'hash-and-exit.mjs');
  await fs.writeFile(entry, script);
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // a plain process, not a test runner's child
  const child = spawn(process.execPath, [entry], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code, signal] = (await new Promise((resolve) => child.once('exit', (...args) => resolve(args)))) as [number | null, string | null];
  clearTimeout(timer);
  assert.equal(signal, null, 'exited by itself, not killed after 20 s');
  assert.equal(code, 0);
  assert.equal(stdout.trim(), sha256(Buffer.from('abc')));
});

test('a running digest of bytes fed in pieces gives the digest of its bytes', async (t) => {
  const hasher = new FileHasher();
  t.after(() => hasher.close());
  const bytes = randomBytes(5 * 1024 * 1024 + 3);
  const running = hasher.digester('sha256');
  const half = 3 * 1024 * 1024 + 100;
  let waited = 0;
  for (let at = 0; at < half; at += 65_537) {
    // Far more than the slabs out at once: update asks the caller to wait, and drained lets it go on.
    if (!running.update(bytes.subarray(at, Math.min(half, at + 65_537)))) {
      waited++;
      await running.drained();
    }
  }
  assert.equal(running.length, half);
  running.update(bytes.subarray(half));
  assert.ok(waited > 0, 'the caller was asked to wait for the thread at least once');
  assert.equal(await running.digest(), sha256(bytes));
  const empty = hasher.digester('sha512');
  assert.equal(await empty.digest(), createHash('sha512').digest('hex'));
});
