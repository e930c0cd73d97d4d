// The ways broken-reg is started give node the same V8 flags: the bin's first line (npm's link, npx,
// a global install run it through /usr/bin/env), package.json's start script and the container
// image's ENTRYPOINT (both run the bin with node). Why the flags: the comment in bin/broken-reg.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN } from './helpers/cli.js';
import { makeTempDir } from './helpers/registry.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The words of a command line that are node flags. */
const flagsOf = (words: readonly string[]) => words.filter((word) => word.startsWith('--'));

async function binFlags(): Promise<string[]> {
  const [first = ''] = (await fs.readFile(BIN, 'utf8')).split('\n', 1);
  const match = /^#!\/usr\/bin\/env -S node((?: --\S+)*)$/.exec(first);
  assert.ok(match, `the bin's first line runs node through env -S: ${first}`);
  return flagsOf((match[1] ?? '').trim().split(' '));
}

test('package.json start and the Dockerfile ENTRYPOINT give node the flags the bin gives it', async () => {
  const flags = await binFlags();
  assert.ok(flags.length > 0, 'the bin sets V8 flags');

  const { scripts } = JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const start = (scripts.start ?? '').split(' ');
  assert.equal(start[0], 'node');
  assert.deepEqual(flagsOf(start.slice(1, start.indexOf('bin/broken-reg.js'))), flags, `npm start: ${scripts.start}`);

  const dockerfile = await fs.readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)?.[1];
  assert.ok(entrypoint, 'the Dockerfile has an exec-form ENTRYPOINT');
  const words = JSON.parse(entrypoint) as string[];
  assert.equal(words[0], 'node');
  assert.equal(words.at(-1), '/app/bin/broken-reg.js');
  assert.deepEqual(flagsOf(words.slice(1, -1)), flags, `ENTRYPOINT: ${entrypoint}`);
});

test('the bin run by itself (as npm links it) starts node with those flags', async (t) => {
  const flags = await binFlags();
  const store = await makeTempDir(t);
  const child = spawn(BIN, ['serve', '--port', '0', '--store', store], { env: { PATH: process.env.PATH, HOME: process.env.HOME } });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let output = '';
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start in 15 s:\n${output}`)), 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (/listening on \S+/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`serve exited with ${code}:\n${output}`)));
  });
  // env replaces itself with node: the process is node, with the flags before the script.
  const cmdline = (await fs.readFile(`/proc/${child.pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
  assert.match(path.basename(cmdline[0] ?? ''), /^node/);
  assert.deepEqual(cmdline.slice(1, 1 + flags.length), flags);
  assert.equal(cmdline[1 + flags.length], BIN);
  child.kill('SIGTERM');
  assert.equal(await new Promise((resolve) => child.once('exit', resolve)), 0, 'SIGTERM stops it cleanly');
});
