// The library as a user's test would use it: start a registry, let a client with retries pull through
// a rule, and assert on journal() what the client did. (On this branch the rule's decorator is the
// test stand-in from helpers/status-decorator.ts, registered as `fault`; with broken/fault built in, a
// user writes the same test with no decorators option and rules such as on-manifest_status-503_times-2.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, RetryAgent, request } from 'undici';
import { startRegistry } from 'broken-reg';
import { statusDecorator } from './helpers/status-decorator.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('a client with retries pulls through a rule: the journal shows it retried exactly twice, then asked for a Range', async (t) => {
  const registry = await startRegistry({ decorators: [statusDecorator()] });
  t.after(() => registry.close());
  registry.addRule({ repository: 'broken/random', operation: 'manifest.get' }, 'status-503_times-2');
  const client = new RetryAgent(new Agent(), { maxRetries: 3, minTimeout: 10, timeoutFactor: 1 });
  t.after(() => client.close());
  const image = `${registry.url}/v2/broken/random/manifests/layers-1_size-4096_seed-1`;
  const manifest = await request(image, { dispatcher: client, headers: { accept: 'application/vnd.oci.image.manifest.v1+json' }, headersTimeout: 10_000, bodyTimeout: 10_000 });
  assert.equal(manifest.statusCode, 200);
  const layer = ((await manifest.body.json()) as { layers: { digest: string }[] }).layers[0]?.digest;
  assert.ok(layer);
  const part = await request(`${registry.url}/v2/broken/random/blobs/${layer}`, { dispatcher: client, headers: { range: 'bytes=0-99' }, headersTimeout: 10_000, bodyTimeout: 10_000 });
  assert.equal(part.statusCode, 206);
  assert.equal((await part.body.arrayBuffer()).byteLength, 100);

  const pulls = registry.journal({ operation: 'manifest.get' });
  assert.deepEqual(pulls.map((entry) => entry.status), [503, 503, 200]);
  const blob = registry.journal({ operation: 'blob.get' });
  assert.deepEqual(blob.map((entry) => [entry.status, entry.range]), [[206, 'bytes=0-99']]);
  registry.reset();
  assert.deepEqual(registry.journal(), []);
});

test('close() leaves nothing open: a process that starts and closes a registry exits by itself, its temp store gone', async () => {
  const script = `
    import { startRegistry } from 'broken-reg';
    const registry = await startRegistry({ rules: [] });
    const stream = await fetch(registry.url + '/_broken/journal/stream');
    await (await fetch(registry.url + '/v2/')).arrayBuffer();
    const reader = stream.body.getReader();
    await reader.read();
    await registry.close();
    console.log(registry.store);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  clearTimeout(timer);
  assert.equal(signal, null, `the process had to be killed: something stayed open\n${stderr}`);
  assert.equal(code, 0, stderr);
  const store = stdout.trim();
  assert.match(store, /broken-reg-/);
  assert.equal(fs.existsSync(store), false);
});
