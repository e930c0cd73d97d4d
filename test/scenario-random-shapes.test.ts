// broken/random's shape keys over real HTTP: an index and every child by digest, every blob with its
// digest, the same digests as the generator in memory, one generation for many clients, 400s naming
// the parameter, and images of 200 and 1000 layers once --max-layers allows them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countBlobWriters, startRegistry } from './helpers/registry.js';
import { checkRandomTree, DEFAULT_SHAPE, type Fetcher } from './helpers/random-tree.js';
import { requireTools } from './helpers/run.js';
import { DEFAULT_LIMITS } from '../src/config.js';

// Pinned in test/random-keys.test.ts.
const GOLDEN_OCI_4_ZSTD = 'sha256:7cf103a43105ff17d8942871773097101df15c6d2447976bd154762c3d54adda';
const GOLDEN_DOCKER_LIST_2 = 'sha256:c78fe94fe61212b46d57a850d710a17023e965437da193dbf9817f779bf5b5e3';

async function fetchOk(url: string, init: RequestInit = {}) {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(60_000) });
  assert.equal(response.status, 200, `${url}: ${response.status}`);
  return response;
}

function httpFetcher(base: string, seen: { manifests: string[]; blobs: string[] }): Fetcher {
  return {
    async manifest(digest) {
      seen.manifests.push(digest);
      const response = await fetchOk(`${base}/manifests/${digest}`);
      assert.equal(response.headers.get('docker-content-digest'), digest);
      return { bytes: Buffer.from(await response.arrayBuffer()), mediaType: response.headers.get('content-type') ?? '' };
    },
    async blob(digest) {
      seen.blobs.push(digest);
      return Buffer.from(await (await fetchOk(`${base}/blobs/${digest}`)).arrayBuffer());
    },
  };
}

async function pullTree(base: string, tag: string, shape: Parameters<typeof checkRandomTree>[1]) {
  const response = await fetchOk(`${base}/manifests/${tag}`);
  const top = {
    bytes: Buffer.from(await response.arrayBuffer()),
    mediaType: response.headers.get('content-type') ?? '',
    digest: response.headers.get('docker-content-digest') ?? '',
  };
  const seen = { manifests: [] as string[], blobs: [] as string[] };
  const tree = await checkRandomTree(top, shape, httpFetcher(base, seen));
  return { top, tree, seen };
}

test('an OCI index of 4 zstd images with attestations: the index, each child and each blob pull with their digests', async (t) => {
  if (!requireTools(t, 'zstd')) return;
  const registry = await startRegistry(t);
  const base = `${registry.url}/v2/broken/random`;
  const shape = { ...DEFAULT_SHAPE, layers: 2, size: 1024, format: 'oci' as const, platforms: 4, comp: 'zstd' as const };
  const { top, seen } = await pullTree(base, 'layers-2_size-1k_format-oci_platforms-4_comp-zstd', shape);
  assert.equal(top.digest, GOLDEN_OCI_4_ZSTD);
  assert.equal(top.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.equal(seen.manifests.length, 4);
  assert.equal(seen.blobs.length, 4 * 3);

  const attested = await pullTree(base, 'attest-1_platforms-4_layers-2_size-1k_comp-zstd', { ...shape, attest: true });
  assert.equal(attested.tree.attestations.size, 4);
  // The same images as the index without attestations: they were generated once and are shared.
  assert.deepEqual(
    attested.tree.images.map((image) => image.digest),
    (await pullTree(base, 'layers-2_size-1k_format-oci_platforms-4_comp-zstd', shape)).tree.images.map((image) => image.digest),
  );
  const head = await fetchOk(`${base}/manifests/${attested.seen.manifests.at(-1)}`, { method: 'HEAD' });
  assert.equal(head.headers.get('content-type'), 'application/vnd.oci.image.manifest.v1+json');
  // Only the tags asked for: the children are stored by digest.
  const tags = (await (await fetchOk(`${base}/tags/list`)).json()) as { tags: string[] };
  assert.deepEqual(tags.tags, [
    'attest-1_platforms-4_layers-2_size-1k_comp-zstd',
    'layers-2_size-1k_format-oci_platforms-4_comp-zstd',
    'layers-2_size-1k_format-oci_platforms-4_comp-zstd_attest-1',
  ]);
});

test('a Docker manifest list of 2 images, uncompressed and many-file layers, pull over HTTP', async (t) => {
  const registry = await startRegistry(t);
  const base = `${registry.url}/v2/broken/random`;
  const list = await pullTree(base, 'layers-1_size-1024_platforms-2', { ...DEFAULT_SHAPE, layers: 1, size: 1024, platforms: 2 });
  assert.equal(list.top.digest, GOLDEN_DOCKER_LIST_2);
  assert.equal(list.top.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
  await pullTree(base, 'layers-3_size-10k_comp-none_files-20_format-oci', { ...DEFAULT_SHAPE, layers: 3, size: 10240, comp: 'none', files: 20, format: 'oci' });
});

test('many clients asking for one index at once cause one generation', async (t) => {
  const registry = await startRegistry(t);
  const ingested = countBlobWriters(registry.deps.store);
  const digests = await Promise.all(
    Array.from({ length: 12 }, async (_, i) => {
      const tag = i % 2 ? 'layers-2_size-64k_seed-3_platforms-3_attest-1' : 'attest-1_format-oci_platforms-3_size-64k_seed-3_layers-2';
      return (await fetchOk(`${registry.url}/v2/broken/random/manifests/${tag}`)).headers.get('docker-content-digest');
    }),
  );
  assert.equal(new Set(digests).size, 1);
  assert.equal(ingested(), 3 * (2 + 1) + 3 * 2, 'per image two layers and a config, per attestation a statement and a config, once');
});

test('bad shape keys answer 400 MANIFEST_INVALID naming the parameter', async (t) => {
  const registry = await startRegistry(t);
  for (const [tag, param] of [
    ['layers-1_size-1_format-tar', 'format'],
    ['layers-1_size-1_platforms-9', 'platforms'],
    ['layers-1_size-1_comp-lz4', 'comp'],
    ['layers-1_size-1_files-0', 'files'],
    ['layers-1_size-1_attest-2', 'attest'],
    ['layers-1_size-1_attest-1_format-docker', 'attest'],
    ['layers-101_size-1', 'layers'],
  ] as const) {
    const response = await fetch(`${registry.url}/v2/broken/random/manifests/${tag}`, { signal: AbortSignal.timeout(5000) });
    assert.equal(response.status, 400, tag);
    const body = (await response.json()) as { errors: { code: string; message: string; detail: { parameter: string } }[] };
    assert.equal(body.errors[0]?.code, 'MANIFEST_INVALID', tag);
    assert.equal(body.errors[0]?.detail.parameter, param, tag);
    assert.match(body.errors[0]?.message ?? '', new RegExp(`"${param}"|${param}-`), tag);
  }
});

test('with --max-layers 1000, images of 200 and 1000 layers are served whole', { timeout: 120_000 }, async (t) => {
  const registry = await startRegistry(t, { config: { limits: { ...DEFAULT_LIMITS, maxLayers: 1000 } } });
  const base = `${registry.url}/v2/broken/random`;
  await pullTree(base, 'layers-200_size-16_format-oci', { ...DEFAULT_SHAPE, layers: 200, size: 16, format: 'oci' });
  const response = await fetchOk(`${base}/manifests/layers-1000_size-0`);
  const manifest = (await response.json()) as { layers: { digest: string }[]; config: { digest: string } };
  assert.equal(manifest.layers.length, 1000);
  const config = (await (await fetchOk(`${base}/blobs/${manifest.config.digest}`)).json()) as { rootfs: { diff_ids: string[] } };
  assert.equal(config.rootfs.diff_ids.length, 1000);
  for (const digest of [manifest.layers[0]?.digest, manifest.layers[999]?.digest]) await fetchOk(`${base}/blobs/${digest}`, { method: 'HEAD' });
});
