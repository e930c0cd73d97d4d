// broken-reg journal, and serve's journal and control plane flags, through the real binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { BIN, runCli, startServeCli } from './helpers/cli.js';
import { makeTempDir } from './helpers/registry.js';
import { TIMEOUT_MS } from './helpers/journal.js';
import net from 'node:net';

/** A loopback port nothing listens on (the OS gave it out and it was closed again). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('journal prints what serve answered, as log lines or JSON lines; --follow streams new requests', async (t) => {
  const store = await makeTempDir(t);
  const rules = path.join(store, '..', `${path.basename(store)}-rules.yaml`);
  t.after(() => fs.rm(rules, { force: true }));
  await fs.writeFile(rules, '[]\n');
  const serving = await startServeCli(t, ['--store', store, '--journal-size', '50', '--rules', rules]);
  await (await fetch(`${serving.url}/v2/broken/error/manifests/503`, { signal: AbortSignal.timeout(TIMEOUT_MS) })).arrayBuffer();
  const text = await runCli(['journal', '--url', serving.url], { timeoutMs: 20_000 });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^\S+ GET \/v2\/broken\/error\/manifests\/503 503 \d+B [\d.]+ms error UNAVAILABLE seq=1 op=manifest\.get/);
  const json = await runCli(['journal', '--url', serving.url, '--json', '--status', '5xx'], { timeoutMs: 20_000 });
  assert.equal(json.code, 0, json.stderr);
  const lines = json.stdout.trim().split('\n').map((line) => JSON.parse(line));
  assert.deepEqual(lines.map((entry) => [entry.seq, entry.status, entry.repository]), [[1, 503, 'broken/error']]);

  const follow = spawn(process.execPath, [BIN, 'journal', '--url', serving.url, '--follow', '--json', '--since', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const killer = setTimeout(() => follow.kill('SIGKILL'), 20_000);
  t.after(() => {
    clearTimeout(killer);
    if (follow.exitCode === null) follow.kill('SIGKILL');
  });
  let out = '';
  const seen = new Promise<void>((resolve) =>
    follow.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve();
    }),
  );
  // The stream is open once the server has it; requests then arrive as events.
  const deadline = Date.now() + 10_000;
  while (!out.includes('\n') && Date.now() < deadline) {
    await (await fetch(`${serving.url}/v2/`, { signal: AbortSignal.timeout(TIMEOUT_MS) })).arrayBuffer();
    await Promise.race([seen, new Promise((resolve) => setTimeout(resolve, 100))]);
  }
  const first = JSON.parse(out.split('\n')[0] ?? '');
  assert.equal(first.path, '/v2/');
  assert.ok(first.seq >= 2);
  const exited = new Promise((resolve) => follow.once('exit', resolve));
  follow.kill('SIGINT');
  assert.equal(await exited, 0, 'SIGINT ends --follow cleanly');
});

test('journal and serve refuse bad input in one line with the exit code for it', async (t) => {
  const bad = await runCli(['journal', '--url', 'not a url'], { timeoutMs: 20_000 });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^broken-reg: --url: "not a url" is not a URL\n$/);
  const port = await closedPort();
  const down = await runCli(['journal', '--url', `http://127.0.0.1:${port}`], { timeoutMs: 20_000 });
  assert.equal(down.code, 1);
  assert.equal(down.stderr, `broken-reg: cannot reach http://127.0.0.1:${port}: ECONNREFUSED\n`);
  const store = await makeTempDir(t);
  for (const [flags, message] of [
    [['--journal-size', '-1'], /--journal-size: "-1" is not a whole number/],
    [['--admin-allow', 'example.com'], /--admin-allow: "example.com" is not an IP address or "loopback"/],
    [['--admin-token', 'short'], /--admin-token must be 8 to 256 printable characters/],
    [['--rules', path.join(store, 'missing.yaml')], /--rules .*missing\.yaml: ENOENT/],
  ] as const) {
    const result = await runCli(['serve', '--port', '0', '--store', store, ...flags], { timeoutMs: 20_000 });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, message);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  }
});
