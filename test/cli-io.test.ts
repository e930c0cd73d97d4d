// Every command takes its I/O from the Io that main() is given: output, errors, env and signals come
// from there and nowhere else, so a command runs in-process against streams and signals of our own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { main } from '../src/cli.js';
import type { Io } from '../src/commands/io.js';
import { makeTempDir } from './helpers/registry.js';
import { holdWrites, startFront } from './helpers/proxy.js';
import { eventually, randomContent } from './helpers/oci-http.js';

interface FakeIo {
  io: Io;
  out: () => string;
  err: () => string;
  /** Sends SIGTERM to whatever listens. */
  stop(): void;
  /** Resolves once a command listens for signals. */
  listening: Promise<void>;
}

function fakeIo(env: NodeJS.ProcessEnv = {}): FakeIo {
  const capture = () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (chunk: Buffer) => (text += chunk.toString()));
    return { stream, text: () => text };
  };
  const out = capture();
  const err = capture();
  const listeners = new Set<(signal: NodeJS.Signals) => void>();
  let listened!: () => void;
  const listening = new Promise<void>((resolve) => (listened = resolve));
  const io: Io = {
    stdout: out.stream,
    stderr: err.stream,
    stdin: Readable.from([]),
    env,
    signals: {
      onStop(stop) {
        listeners.add(stop);
        listened();
        return () => listeners.delete(stop);
      },
    },
  };
  return { io, out: out.text, err: err.text, stop: () => listeners.forEach((stop) => stop('SIGTERM')), listening };
}

const argv = (...args: string[]) => ['node', 'broken-reg', ...args];

test('serve writes to the given stdout and stops on the given signal', async (t) => {
  const store = await makeTempDir(t);
  const fake = fakeIo({ BLOB_DIR: store });
  const exit = main(argv('serve', '--port', '0'), fake.io);
  await fake.listening;
  const url = /listening on (\S+)/.exec(fake.out())?.[1];
  assert.ok(url, fake.out());
  const base = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(5000) });
  assert.equal(base.status, 200);
  fake.stop();
  assert.equal(await exit, 0);
  assert.match(fake.err(), /^broken-reg: SIGTERM, shutting down$/m);
});

test('seed takes its store from the given env and stops on the given signal; errors go to the given stderr', async (t) => {
  const store = await makeTempDir(t);
  const done = fakeIo({ BLOB_DIR: store });
  assert.equal(await main(argv('seed', 'layers-1_size-1024'), done.io), 0, done.err());
  assert.match(done.out(), /^broken\/random:layers-1_size-1024 sha256:[0-9a-f]{64}\n$/);
  const stopped = fakeIo({ BLOB_DIR: store });
  void stopped.listening.then(() => stopped.stop());
  assert.equal(await main(argv('seed', 'layers-2_size-10m_seed-3'), stopped.io), 1);
  assert.equal(stopped.err(), 'broken-reg: SIGTERM: stopped while seeding broken/random:layers-2_size-10m_seed-3, which was not stored\n');
  const usage = fakeIo();
  assert.equal(await main(argv('inspect', 'a:b:c', '--store', store), usage.io), 2);
  assert.equal(usage.err().split('\n').length, 2, usage.err());
});

test('serve prints on the given stderr that a blob its client had in full was not stored', async (t) => {
  // The store's writes are held, so they let go of the body and go on from a second request, which
  // sends other bytes: the client got the right ones, the store keeps nothing, and only stderr says so.
  const size = 40 << 20;
  const blob = randomContent(size, 38);
  const other = Buffer.from(blob.bytes);
  other[size - 1] = (other[size - 1] ?? 0) ^ 0xff;
  const front = await startFront(t, (req, res) => {
    const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0);
    const headers = from > 0 ? { 'Content-Range': `bytes ${from}-${size - 1}/${size}` } : {};
    res.writeHead(from > 0 ? 206 : 200, { 'Content-Length': size - from, ...headers }).end((from > 0 ? other : blob.bytes).subarray(from));
  });
  const store = await makeTempDir(t);
  const fake = fakeIo({ BLOB_DIR: store });
  const exit = main(argv('serve', '--port', '0', '--upstream', front.host, '--upstream-insecure', front.host, '--allow-upstream', front.host), fake.io);
  t.after(async () => {
    fake.stop(); // also when an assertion failed
    await exit;
  });
  await fake.listening;
  const url = /listening on (\S+)/.exec(fake.out())?.[1];
  const writes = await holdWrites(t, store);
  const response = await fetch(`${url}/v2/held/blobs/${blob.digest}`, { signal: AbortSignal.timeout(20_000) });
  assert.ok(Buffer.from(await response.arrayBuffer()).equals(blob.bytes));
  writes.open();
  assert.ok(await eventually(async () => fake.err().includes('was not stored'), 500), fake.err());
  assert.match(fake.err(), new RegExp(`^broken-reg: proxy: held@${blob.digest} reached its clients but was not stored: upstream 127\\.0\\.0\\.1:\\d+ sent a blob that does not match`, 'm'));
  fake.stop();
  assert.equal(await exit, 0);
});
