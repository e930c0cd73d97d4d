// What serve, seed and prepare refuse before they start work: a store they cannot use (a file, under
// a file, not writable by this user) and, for serve, a port already taken. One line, exit 1.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { makeTempDir } from './helpers/registry.js';
import { runCli, type RunCliOptions } from './helpers/cli.js';

/** Each command that writes the store, with arguments that would otherwise make it start. */
const WRITERS: Record<string, (store: string) => string[]> = {
  serve: (store) => ['serve', '--port', '0', '--store', store],
  seed: (store) => ['seed', 'layers-1_size-1024', '--store', store],
  prepare: (store) => ['prepare', '-', '--store', store],
};

/** Runs the commands (all three, or the named ones: the check is one function) and expects one line. */
async function refused(t: TestContext, store: string, expected: RegExp, options: RunCliOptions = {}, only?: string): Promise<void> {
  for (const [name, args] of Object.entries(WRITERS).filter(([name]) => !only || name === only)) {
    const result = await runCli(args(store), { timeoutMs: 15_000, input: '', ...options });
    assert.equal(result.code, 1, `${name}: exit 1, got ${result.code}: ${result.stdout}${result.stderr}`);
    assert.equal(result.stdout, '', `${name} did not start`);
    const lines = result.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, `${name}: one line, got ${result.stderr}`);
    assert.match(lines[0] ?? '', expected, name);
    assert.doesNotMatch(lines[0] ?? '', /\bE[A-Z]{3,}\b|errno/, `${name}: words, not an errno`);
  }
  t.diagnostic(`refused ${store}`);
}

test('a --store that is a file, or below one, is one line naming it, for serve, seed and prepare', async (t) => {
  const dir = await makeTempDir(t);
  const file = path.join(dir, 'not-a-dir');
  await fs.writeFile(file, 'x');
  await refused(t, file, new RegExp(`^broken-reg: store ${file} is not a directory$`));
  await refused(t, path.join(file, 'store'), new RegExp(`^broken-reg: store ${file}/store cannot be created: ${file} is not a directory$`));
  await refused(t, path.join(file, 'a', 'b'), new RegExp(`^broken-reg: store ${file}/a/b cannot be created: ${file} is not a directory$`), {}, 'seed');
  assert.equal(await fs.readFile(file, 'utf8'), 'x', 'the file is untouched');
});

/**
 * Another user's store. As root (CI and this machine), the command runs as nobody on a directory
 * root owns, since root itself may write anywhere; as anyone else, on a directory made read-only.
 */
async function foreignStore(t: TestContext, dir: string): Promise<RunCliOptions> {
  if (process.getuid?.() === 0) {
    await fs.chmod(dir, 0o755);
    return { user: { uid: 65534, gid: 65534 } };
  }
  await fs.chmod(dir, 0o555);
  t.after(() => fs.chmod(dir, 0o755));
  return {};
}

test('a store this user cannot write is found at start, for serve, seed and prepare', async (t) => {
  const store = await makeTempDir(t);
  const as = await foreignStore(t, store);
  await refused(t, store, new RegExp(`^broken-reg: store ${store} is not writable: permission denied$`), as);
  assert.deepEqual(await fs.readdir(store), [], 'nothing was written');
  // Writable at the top, but a directory inside belongs to someone else: every push would fail.
  if (as.user) {
    const mine = await makeTempDir(t);
    await fs.chown(mine, as.user.uid, as.user.gid);
    await fs.mkdir(path.join(mine, 'blobs'), { mode: 0o755 });
    await refused(t, mine, new RegExp(`^broken-reg: store ${mine} is not writable \\(${mine}/blobs\\): permission denied$`), as, 'serve');
  }
  // A missing store below a directory this user cannot write cannot be created.
  await refused(t, path.join(store, 'sub'), new RegExp(`^broken-reg: store ${store}/sub cannot be created: permission denied$`), as, 'prepare');
});

test('a port already in use: one line naming it and suggesting --port, exit 1', async (t) => {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  const port = (holder.address() as net.AddressInfo).port;
  const store = await makeTempDir(t);
  const result = await runCli(['serve', '--port', String(port), '--store', store], { timeoutMs: 15_000 });
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  const lines = result.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0] ?? '', new RegExp(`^broken-reg: cannot listen on 127\\.0\\.0\\.1:${port}: .*port ${port} is already in use.*--port <n>.*--port 0`));
  const viaEnv = await runCli(['serve', '--store', store], { timeoutMs: 15_000, env: { BIND_PORT: String(port) } });
  assert.equal(viaEnv.code, 1);
  assert.match(viaEnv.stderr, new RegExp(`port ${port} is already in use`));
});
