import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { makeTempDir } from './helpers/registry.js';
import { defaultScenarios } from '../src/scenarios/index.js';
import { runCli, startServeCli } from './helpers/cli.js';

const exec = promisify(execFile);

test('serve prints its URL, logs one line per request naming the scenario, and stops on SIGTERM', async (t) => {
  const store = await makeTempDir(t);
  const serving = await startServeCli(t, ['--store', store]);
  assert.match(serving.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const response = await fetch(`${serving.url}/v2/broken/error/manifests/404`, { signal: AbortSignal.timeout(5000) });
  assert.equal(response.status, 404);
  await response.arrayBuffer();
  assert.equal(await serving.stop('SIGTERM'), 0);
  assert.match(serving.output(), /GET \/v2\/broken\/error\/manifests\/404 404 \d+B [\d.]+ms error MANIFEST_UNKNOWN/);
});

test('serve takes BIND_PORT, BLOB_DIR and --log-format json', async (t) => {
  const store = await makeTempDir(t);
  const serving = await startServeCli(t, ['--log-format', 'json'], { BLOB_DIR: store, BIND_HOST: '127.0.0.1' });
  assert.match(serving.output(), new RegExp(`store ${store.replace(/[/\\]/g, '.')}`));
  await (await fetch(`${serving.url}/v2/`, { signal: AbortSignal.timeout(5000) })).arrayBuffer();
  assert.equal(await serving.stop('SIGINT'), 0);
  const line = serving.output().split('\n').find((l) => l.startsWith('{'));
  const entry = JSON.parse(line ?? '{}') as Record<string, unknown>;
  assert.equal(entry.method, 'GET');
  assert.equal(entry.path, '/v2/');
  assert.equal(entry.status, 200);
  assert.equal(entry.scenario, 'registry');
  assert.equal(typeof entry.ms, 'number');
});

test('serve over TLS with --tls-cert and --tls-key', async (t) => {
  const dir = await makeTempDir(t);
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], {
    timeout: 30_000,
  });
  const serving = await startServeCli(t, ['--store', path.join(dir, 'store'), '--tls-cert', cert, '--tls-key', key]);
  assert.match(serving.url, /^https:\/\//);
  const status = await new Promise<number | undefined>((resolve, reject) => {
    const request = https.get(`${serving.url}/v2/`, { rejectUnauthorized: false, timeout: 5000 }, (response) => {
      response.resume();
      resolve(response.statusCode);
    });
    request.on('error', reject);
  });
  assert.equal(status, 200);
  assert.equal(await serving.stop(), 0);
});

test('usage errors exit 2 with one line; an unusable port exits 1', async (t) => {
  const bad = await runCli(['serve', '--port', 'http'], { timeoutMs: 15_000 });
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /--port/);
  const store = await makeTempDir(t);
  const first = await startServeCli(t, ['--store', store]);
  const port = new URL(first.url).port;
  const taken = await runCli(['serve', '--port', port, '--store', store], { timeoutMs: 15_000 });
  assert.equal(taken.code, 1);
  assert.match(taken.stderr, /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/);
  await first.stop();
  const unknown = await runCli(['serve', '--no-such-flag'], { timeoutMs: 15_000 });
  assert.equal(unknown.code, 2);
  const help = await runCli(['serve', '--help'], { timeoutMs: 15_000 });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /broken\/error:404/);
  assert.match(help.stdout, /--max-timeout/);
  await fs.access(store);
});

test('serve --help lists every scenario from its metadata, the nested forms (broken/error/<status>) included', async () => {
  const help = await runCli(['serve', '--help'], { timeoutMs: 15_000 });
  assert.equal(help.code, 0, help.stderr);
  const table = defaultScenarios();
  for (const scenario of table.scenarios) {
    assert.ok(help.stdout.includes(`${scenario.example} `), `${scenario.example} is not in serve --help`);
    assert.ok(help.stdout.includes(scenario.summary), `the summary of broken/${scenario.name} is not in serve --help`);
    if (scenario.nested) assert.match(help.stdout, new RegExp(`^  broken/${scenario.name}/<\\w+> +As above`, 'm'), `no nested form of broken/${scenario.name}`);
    for (const parameter of scenario.parameters.filter((p) => p.name.startsWith('<'))) {
      assert.ok(help.stdout.includes(parameter.description), `the ${parameter.name} of broken/${scenario.name} is not described`);
    }
  }
  for (const decorator of table.decorators ?? []) assert.ok(help.stdout.includes(`broken/${decorator.name}/<rules>/<repository>`));
  assert.match(help.stdout, /^  broken\/error\/<status> +As above for manifest, blob and tags requests, with <status> in the path/m);
});
