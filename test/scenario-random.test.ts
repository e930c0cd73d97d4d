import path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import fs from 'node:fs/promises';
import { countBlobWriters, startRegistry } from './helpers/registry.js';
import { DEFAULT_LIMITS } from '../src/config.js';

const GOLDEN_LAYERS_1_SIZE_1024 = 'sha256:74c40758cffe6cd21d3729c90a2edba699d0134ec81e42bc7c6c97ec8861cd21';
const GOLDEN_LAYERS_3_SIZE_1024_SEED_7 = 'sha256:5b01a463677c4c2ce8500d0e29ad219f513f514281c6d59ed09209e2a45ff59a';

interface Manifest {
  mediaType: string;
  config: { digest: string; size: number };
  layers: { digest: string; size: number; mediaType: string }[];
}

async function fetchOk(url: string, init: RequestInit = {}) {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  assert.equal(response.status, 200, `${url}: ${response.status}`);
  return response;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

test('broken/random serves the golden image, and every blob it names pulls with its digest', async (t) => {
  const registry = await startRegistry(t);
  const base = `${registry.url}/v2/broken/random`;
  for (const [tag, golden] of [
    ['layers-1_size-1024', GOLDEN_LAYERS_1_SIZE_1024],
    ['layers-3_size-1024_seed-7', GOLDEN_LAYERS_3_SIZE_1024_SEED_7],
  ]) {
    const response = await fetchOk(`${base}/manifests/${tag}`);
    assert.equal(response.headers.get('content-type'), 'application/vnd.docker.distribution.manifest.v2+json');
    assert.equal(response.headers.get('docker-content-digest'), golden);
    const bytes = Buffer.from(await response.arrayBuffer());
    assert.equal(sha256(bytes), golden);
    const manifest = JSON.parse(bytes.toString()) as Manifest;
    const config = Buffer.from(await (await fetchOk(`${base}/blobs/${manifest.config.digest}`)).arrayBuffer());
    assert.equal(sha256(config), manifest.config.digest);
    const diffIds = (JSON.parse(config.toString()) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;
    for (const [i, layer] of manifest.layers.entries()) {
      const blob = Buffer.from(await (await fetchOk(`${base}/blobs/${layer.digest}`)).arrayBuffer());
      assert.equal(sha256(blob), layer.digest);
      assert.equal(blob.length, layer.size);
      assert.equal(sha256(gunzipSync(blob)), diffIds[i]);
    }
  }
  const byDigest = await fetchOk(`${base}/manifests/${GOLDEN_LAYERS_1_SIZE_1024}`, { method: 'HEAD' });
  assert.equal(byDigest.headers.get('docker-content-digest'), GOLDEN_LAYERS_1_SIZE_1024);
  assert.equal(registry.logs.at(-1)?.scenario, 'random');
});

test('the same image whatever the spelling of the tag, and across a restart from the store', async (t) => {
  const registry = await startRegistry(t);
  const digestOf = async (url: string, tag: string) =>
    (await fetchOk(`${url}/v2/broken/random/manifests/${tag}`, { method: 'HEAD' })).headers.get('docker-content-digest');
  assert.equal(await digestOf(registry.url, 'size-1k_layers-1'), GOLDEN_LAYERS_1_SIZE_1024);
  assert.equal(await digestOf(registry.url, 'layers-1_size-1024_seed-0'), GOLDEN_LAYERS_1_SIZE_1024);
  const tags = (await (await fetchOk(`${registry.url}/v2/broken/random/tags/list`)).json()) as { tags: string[] };
  assert.deepEqual(tags.tags, ['layers-1_size-1024_seed-0', 'layers-1_size-1k', 'size-1k_layers-1']);
  await registry.stop();
  const again = await startRegistry(t, { storeDir: registry.storeDir });
  const generated = countBlobWriters(again.deps.store);
  assert.equal(await digestOf(again.url, 'layers-1_size-1024'), GOLDEN_LAYERS_1_SIZE_1024);
  assert.equal(generated(), 0, 'served from the store, not generated again');
});

test('many clients asking at once cause one generation', async (t) => {
  const registry = await startRegistry(t);
  const ingested = countBlobWriters(registry.deps.store);
  const digests = await Promise.all(
    Array.from({ length: 12 }, async (_, i) => {
      const tag = i % 2 ? 'layers-3_size-256k_seed-3' : 'size-256k_seed-3_layers-3';
      return (await fetchOk(`${registry.url}/v2/broken/random/manifests/${tag}`)).headers.get('docker-content-digest');
    }),
  );
  assert.equal(new Set(digests).size, 1);
  assert.equal(ingested(), 4, 'three layers and a config, once');
});

test('bad or oversized parameters answer 400 MANIFEST_INVALID naming the parameter', async (t) => {
  const registry = await startRegistry(t, { config: { limits: { ...DEFAULT_LIMITS, maxLayers: 5, maxRandomSize: 1024 * 1024 } } });
  const cases: [string, RegExp][] = [
    ['latest', /"latest"/],
    ['layers-3', /missing parameter "size"/],
    ['size-10', /missing parameter "layers"/],
    ['layers-0_size-10', /parameter "layers"/],
    ['layers-6_size-10', /parameter "layers".*5/],
    ['layers-1_size-2m', /parameter "size"/],
    ['layers-1_size-1.5k', /parameter "size"/],
    ['layers-1_size-10_color-red', /unknown parameter "color"/],
    ['layers-1_layers-2_size-1', /more than once/],
  ];
  for (const [tag, why] of cases) {
    const response = await fetch(`${registry.url}/v2/broken/random/manifests/${tag}`, { signal: AbortSignal.timeout(5000) });
    assert.equal(response.status, 400, tag);
    const body = (await response.json()) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]?.code, 'MANIFEST_INVALID', tag);
    assert.match(body.errors[0]?.message ?? '', why, tag);
  }
  const unknown = await fetch(`${registry.url}/v2/broken/random/manifests/sha256:${'0'.repeat(64)}`, { signal: AbortSignal.timeout(5000) });
  assert.equal(unknown.status, 404);
  const push = await fetch(`${registry.url}/v2/broken/random/manifests/mine`, { method: 'PUT', body: '{}', signal: AbortSignal.timeout(5000) });
  assert.equal(push.status, 403);
});

test('the server keeps answering while it generates a large image', async (t) => {
  const registry = await startRegistry(t);
  const order: string[] = [];
  const generation = fetchOk(`${registry.url}/v2/broken/random/manifests/layers-2_size-64m_seed-5`).then(async (response) => {
    await response.arrayBuffer();
    order.push('generated');
  });
  // Wait (bounded) until generation has started writing, then ask for other things meanwhile.
  for (let i = 0; i < 400 && order.length === 0; i++) {
    if ((await fs.readdir(path.join(registry.storeDir, 'tmp'))).length > 0) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  for (let i = 0; i < 5; i++) {
    const response = await fetchOk(`${registry.url}/v2/`);
    await response.arrayBuffer();
    order.push('answered');
  }
  await generation;
  assert.deepEqual(order, ['answered', 'answered', 'answered', 'answered', 'answered', 'generated']);
});
