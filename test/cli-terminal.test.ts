// seed and prepare at a real terminal (a pty under util-linux `script`): progress stays bounded on
// any width, a terminal that reports 0 columns included, and SIGINT/SIGTERM stop them promptly with
// exit 1 and one line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { makeTempDir } from './helpers/registry.js';
import { runCli } from './helpers/cli.js';
import { tarOf } from './helpers/tarballs.js';
import { requireTools } from './helpers/run.js';
import { startUnderTerminal, until, within } from './helpers/terminal.js';

/** Far more than any test lets finish: the command is still working when the signal comes. */
const HUGE = 'layers-4_size-1g';
/** How long a stopped command may take to exit: generous for a loaded machine, far below a hang. */
const PROMPT_MS = 10_000;
/** Bounded progress: a spinner at 12 frames a second writes about 2 KB a second; the loop wrote 1 MB. */
const BOUNDED = 64 << 10;

/** Whether some file below dir has content: the store has started writing a blob. */
async function writing(dir: string): Promise<boolean> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    // A file may go between the listing and the stat (the start-up write check removes its probe).
    const size = entry.isFile() ? ((await fs.stat(path.join(entry.parentPath, entry.name)).catch(() => undefined))?.size ?? 0) : 0;
    if (size > 0) return true;
  }
  return false;
}

for (const [columns, signal] of [[0, 'SIGTERM'], [80, 'SIGINT'], [80, 'SIGTERM']] as const) {
  test(`seed on a ${columns}-column terminal: bounded progress, ${signal} stops it at once with one line`, async (t) => {
    if (!requireTools(t, 'script', 'stty')) return;
    const store = await makeTempDir(t);
    const cli = await startUnderTerminal(t, ['seed', HUGE, '--store', store], { columns });
    await until(() => writing(store), () => `seed never wrote a blob:\n${cli.output()}`);
    if (columns > 0) await until(() => /layer 1 of 4/.test(cli.output()), () => `no spinner on a ${columns}-column terminal:\n${cli.output()}`);
    assert.ok(cli.bytes() < BOUNDED, `${cli.bytes()} bytes of progress before the signal`);
    process.kill(cli.pid, signal);
    const code = await within(cli.exited, PROMPT_MS);
    assert.equal(code, 1, `exit within ${PROMPT_MS} ms with 1, got ${code}:\n${cli.output().slice(-2000)}`);
    assert.ok(cli.bytes() < BOUNDED, `${cli.bytes()} bytes written in all`);
    assert.match(cli.output(), new RegExp(`broken-reg: ${signal}: stopped while seeding broken/random:${HUGE}, which was not stored`));
    const inspected = await runCli(['inspect', '--json', '--store', store], { timeoutMs: 15_000 });
    assert.equal(inspected.code, 0, inspected.stderr);
    assert.doesNotMatch(inspected.stdout, new RegExp(HUGE), 'the interrupted image is not tagged');
  });
}

test('prepare - on a 0-column terminal: no loop, and SIGTERM stops an import waiting on stdin', async (t) => {
  if (!requireTools(t, 'script', 'stty', 'mkfifo')) return;
  const dir = await makeTempDir(t);
  const store = path.join(dir, 'store');
  const fifo = path.join(dir, 'stdin');
  await promisify(execFile)('mkfifo', [fifo]);
  const cli = await startUnderTerminal(t, ['prepare', '-', '--store', store], { columns: 0, stdin: fifo });
  // A tarball that starts and never ends: the first MiB of an 8 MiB entry, from a writer that then
  // holds the pipe open without writing (a shell, so no write of ours can fail once prepare is gone).
  const partial = path.join(dir, 'partial.tar');
  await fs.writeFile(partial, (await tarOf([{ name: 'blobs/sha256/big', content: Buffer.alloc(8 << 20, 7) }])).subarray(0, 512 + (1 << 20)));
  const writer = spawn('sh', ['-c', '{ cat "$1"; exec sleep 120; } > "$2"', 'sh', partial, fifo], { stdio: 'ignore' });
  t.after(() => void writer.kill('SIGKILL'));
  await until(() => writing(store), () => `prepare never wrote the entry:\n${cli.output()}`);
  assert.ok(cli.bytes() < BOUNDED, `${cli.bytes()} bytes of progress before the signal`);
  process.kill(cli.pid, 'SIGTERM');
  const code = await within(cli.exited, PROMPT_MS);
  assert.equal(code, 1, `exit within ${PROMPT_MS} ms with 1, got ${code}:\n${cli.output().slice(-2000)}`);
  assert.ok(cli.bytes() < BOUNDED, `${cli.bytes()} bytes written in all`);
  assert.match(cli.output(), /broken-reg: import interrupted; nothing was imported/);
});
