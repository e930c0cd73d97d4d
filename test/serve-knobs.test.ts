import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from './helpers/registry.js';
import { resolveServeConfig, type ServeFlags } from '../src/config.js';
import { UsageError } from '../src/cli-error.js';
import type { Clock } from '../src/clock.js';

test('--warning adds Warning: 299 headers with its probability, from the injected randomness', async (t) => {
  const config = resolveServeConfig({ warning: ['0.5:"registry is degraded"', '1:always'] }, {});
  const draws = [0.2, 0.1, 0.9, 0.1];
  let i = 0;
  const registry = await startRegistry(t, { config: { warnings: config.warnings }, random: () => draws[i++ % draws.length] ?? 0 });
  const first = await fetch(`${registry.url}/v2/`, { signal: AbortSignal.timeout(5000) });
  assert.equal(first.headers.get('warning'), '299 - "registry is degraded", 299 - "always"');
  const second = await fetch(`${registry.url}/v2/broken/error/manifests/404`, { signal: AbortSignal.timeout(5000) });
  assert.equal(second.status, 404);
  assert.equal(second.headers.get('warning'), '299 - "always"');
});

test('bad --warning values are usage errors', () => {
  for (const bad of ['2:x', 'x', '0.5:', 'abc:msg', '0.5:"a"b"']) {
    assert.throws(() => resolveServeConfig({ warning: [bad] }, {}), { name: 'Error', message: /--warning/ }, bad);
  }
});

test('V2_CATALOG_NUM_REPOS answers synthetic repositories, paginated', async (t) => {
  const config = resolveServeConfig({}, { V2_CATALOG_NUM_REPOS: '25' });
  const registry = await startRegistry(t, { config: { catalog: config.catalog } });
  const all = (await (await fetch(`${registry.url}/v2/_catalog`, { signal: AbortSignal.timeout(5000) })).json()) as { repositories: string[] };
  assert.equal(all.repositories.length, 25);
  assert.equal(all.repositories[0], 'synthetic/repo-0000001');
  const page = await fetch(`${registry.url}/v2/_catalog?n=10&last=synthetic/repo-0000010`, { signal: AbortSignal.timeout(5000) });
  const body = (await page.json()) as { repositories: string[] };
  assert.deepEqual(body.repositories[0], 'synthetic/repo-0000011');
  assert.equal(body.repositories.length, 10);
  assert.equal(page.headers.get('link'), '</v2/_catalog?n=10&last=synthetic%2Frepo-0000020>; rel="next"');
});

test('V2_CATALOG_DELAY waits on the injected clock before answering', async (t) => {
  const waits: number[] = [];
  const clock: Clock = { now: () => new Date(0), sleep: async (ms) => void waits.push(ms) };
  const config = resolveServeConfig({ catalogDelay: '1.5s' }, {});
  const registry = await startRegistry(t, { config: { catalog: config.catalog }, clock });
  const response = await fetch(`${registry.url}/v2/_catalog`, { signal: AbortSignal.timeout(5000) });
  assert.equal(response.status, 200);
  assert.deepEqual(waits, [1500]);
});

test('bad limits and knobs are refused with the flag named', () => {
  assert.throws(() => resolveServeConfig({ maxTimeout: '5' }, {}), /--max-timeout/);
  assert.throws(() => resolveServeConfig({ maxLayers: '0' }, {}), /--max-layers/);
  assert.throws(() => resolveServeConfig({ maxRandomSize: '1.5m' }, {}), /--max-random-size/);
  assert.throws(() => resolveServeConfig({}, { V2_CATALOG_NUM_REPOS: '-1' }), /V2_CATALOG_NUM_REPOS/);
  assert.throws(() => resolveServeConfig({}, { V2_CATALOG_DELAY: 'soon' }), /V2_CATALOG_DELAY/);
  assert.throws(() => resolveServeConfig({ port: '70000' }, {}), /--port/);
  assert.throws(() => resolveServeConfig({ tlsCert: 'a.pem' }, {}), /TLS/);
});

test('flag values go through the shared value parsers and their messages name the flag', () => {
  const refused = (flags: ServeFlags, env: NodeJS.ProcessEnv, message: RegExp) =>
    assert.throws(() => resolveServeConfig(flags, env), (error) => error instanceof UsageError && message.test(error.message));
  refused({ maxTimeout: '-1s' }, {}, /^--max-timeout: -1s is less than 0s: a duration is never negative$/);
  refused({ uploadTimeout: '0s' }, {}, /^--upload-timeout: 0s must be longer than zero$/);
  refused({ port: 'http' }, {}, /^--port: "http" is not a port number \(0-65535\)$/);
  refused({}, { BIND_PORT: '70000' }, /^BIND_PORT: "70000" is not a port number/);
  refused({ journalSize: '-1' }, {}, /^--journal-size: "-1" is not a whole number from 0 to 1000000$/);
  refused({ tokenTtl: '0s' }, {}, /^--token-ttl: 0s must be longer than zero$/);
  assert.equal(resolveServeConfig({ uploadTimeout: '90s', maxTimeout: '2m', port: '0' }, {}).uploadTimeoutMs, 90_000);
});
