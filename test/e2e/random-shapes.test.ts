// Real clients against broken/random's shapes: skopeo picks platforms out of an OCI index and copies
// all of it, podman pulls zstd layers, docker pulls an OCI image and picks linux/amd64 out of an
// index. Every digest is the one the registry serves (and the generator pins).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeTempDir, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { createPodman, createSkopeo, missingTools, ok, requireTools, Scope, startDockerd, type Docker } from '../helpers/clients.js';
import { readOciLayout } from '../helpers/images.js';

// Pinned in test/random-keys.test.ts.
const GOLDEN_OCI_4_ZSTD = 'sha256:7cf103a43105ff17d8942871773097101df15c6d2447976bd154762c3d54adda';
const GOLDEN_DOCKER_LIST_2 = 'sha256:c78fe94fe61212b46d57a850d710a17023e965437da193dbf9817f779bf5b5e3';

interface Index {
  manifests: { digest: string; platform: { os: string; architecture: string; variant?: string } }[];
}

async function fetchJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  assert.equal(response.status, 200, url);
  return (await response.json()) as T;
}

/** The index at tag, and the config digest of each child, by platform text. */
async function childrenOf(registry: TestRegistry, tag: string) {
  const base = `${registry.url}/v2/broken/random`;
  const index = await fetchJson<Index>(`${base}/manifests/${tag}`);
  const children = new Map<string, { digest: string; config: string }>();
  for (const child of index.manifests) {
    const manifest = await fetchJson<{ config: { digest: string } }>(`${base}/manifests/${child.digest}`);
    const { os, architecture, variant } = child.platform;
    children.set([os, architecture, variant].filter(Boolean).join('/'), { digest: child.digest, config: manifest.config.digest });
  }
  return children;
}

describe('skopeo and podman with broken/random shapes', { timeout: 240_000 }, () => {
  const scope = new Scope();
  let registry: TestRegistry;

  before(async () => {
    registry = await startRegistry(scope.context);
  });
  after(() => scope.close());

  test('skopeo inspects an OCI index per --override-arch and copies it with --all, digests preserved', async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const skopeo = await createSkopeo(t, [registry.host]);
    const tag = 'layers-2_size-1k_format-oci_platforms-4_comp-zstd';
    const ref = `docker://${registry.host}/broken/random:${tag}`;
    const children = await childrenOf(registry, tag);
    for (const [arch, variant, platform] of [
      ['amd64', undefined, 'linux/amd64'],
      ['arm64', undefined, 'linux/arm64'],
      ['arm', 'v7', 'linux/arm/v7'],
    ] as const) {
      const flags = ['--override-arch', arch, ...(variant ? ['--override-variant', variant] : [])];
      const inspected = JSON.parse(ok(await skopeo.inspect(ref, flags)).stdout) as { Digest: string; Architecture: string; Os: string; Layers: string[] };
      assert.equal(inspected.Digest, GOLDEN_OCI_4_ZSTD, 'skopeo inspect reports the index digest');
      assert.deepEqual([inspected.Os, inspected.Architecture], ['linux', arch]);
      const config = JSON.parse(ok(await skopeo.inspect(ref, [...flags, '--config', '--raw'])).stdout) as { architecture: string; variant?: string };
      assert.deepEqual([config.architecture, config.variant], [arch, variant], `${platform} config`);
      const raw = ok(await skopeo.inspect(ref, [...flags, '--raw'])).stdout;
      assert.equal(JSON.parse(raw).manifests?.length, 4, 'the raw manifest is the index');
      assert.ok(children.get(platform));
    }

    const work = await makeTempDir(t);
    const all = path.join(work, 'all');
    ok(await skopeo.copy(ref, `oci:${all}:all`, ['--all', '--preserve-digests']));
    const copied = await readOciLayout(all, 'all');
    assert.equal(copied.digest, GOLDEN_OCI_4_ZSTD);
    assert.equal(copied.blobs.length, 4 * (1 + 1 + 2), 'four manifests, each with a config and two layers, every file verified');

    const one = path.join(work, 'arm');
    ok(await skopeo.copy(ref, `oci:${one}:arm`, ['--override-arch', 'arm', '--override-variant', 'v7', '--preserve-digests']));
    assert.equal((await readOciLayout(one, 'arm')).digest, children.get('linux/arm/v7')?.digest);
  });

  test('skopeo copies an index with attestations whole', async (t) => {
    if (!requireTools(t, 'skopeo')) return;
    const skopeo = await createSkopeo(t, [registry.host]);
    const tag = 'layers-1_size-1k_platforms-2_attest-1';
    const work = await makeTempDir(t);
    ok(await skopeo.copy(`docker://${registry.host}/broken/random:${tag}`, `oci:${work}:all`, ['--all', '--preserve-digests']));
    const copied = await readOciLayout(work, 'all');
    const head = await fetch(`${registry.url}/v2/broken/random/manifests/${tag}`, { method: 'HEAD', signal: AbortSignal.timeout(10_000) });
    assert.equal(copied.digest, head.headers.get('docker-content-digest'));
    assert.equal(copied.blobs.length, 2 * 3 + 2 * 3, 'two images and two attestations, each a manifest, a config and a layer');
  });

  test('podman pulls an OCI image of zstd layers and stores the layers it decompressed', async (t) => {
    if (!requireTools(t, 'podman')) return;
    const podman = await createPodman(t, [registry.host]);
    const tag = 'layers-2_size-64k_seed-1_format-oci_comp-zstd';
    const ref = `${registry.host}/broken/random:${tag}`;
    ok(await podman.pull(ref, [], { timeoutMs: 90_000 }));
    const base = `${registry.url}/v2/broken/random`;
    const head = await fetch(`${base}/manifests/${tag}`, { method: 'HEAD', signal: AbortSignal.timeout(10_000) });
    const manifest = await fetchJson<{ config: { digest: string } }>(`${base}/manifests/${tag}`);
    const config = await fetchJson<{ rootfs: { diff_ids: string[] } }>(`${base}/blobs/${manifest.config.digest}`);
    const inspected = JSON.parse(ok(await podman.run(['image', 'inspect', ref])).stdout) as { Digest: string; RootFS: { Layers: string[] } }[];
    assert.equal(inspected[0]?.Digest, head.headers.get('docker-content-digest'));
    assert.deepEqual(inspected[0]?.RootFS.Layers, config.rootfs.diff_ids, 'the zstd layers decompressed to their diff_ids');
  });
});

describe('docker with broken/random shapes', { timeout: 240_000 }, () => {
  const scope = new Scope();
  const TOOLS = ['docker', 'dockerd'];
  let registry: TestRegistry;
  let docker: Docker;

  before(async () => {
    registry = await startRegistry(scope.context);
    if (missingTools(...TOOLS).length > 0) return;
    docker = await startDockerd(scope, { insecureRegistries: [registry.host] });
  });
  after(() => scope.close());

  const pull = async (tag: string) => {
    const output = ok(await docker.run(['pull', `${registry.host}/broken/random:${tag}`], { timeoutMs: 90_000 })).stdout;
    return /^Digest: (sha256:[a-f0-9]{64})$/m.exec(output)?.[1];
  };
  const inspect = async (tag: string) =>
    JSON.parse(ok(await docker.run(['image', 'inspect', `${registry.host}/broken/random:${tag}`])).stdout)[0] as {
      Id: string;
      Architecture: string;
      Os: string;
      RootFS: { Layers: string[] };
    };

  test('docker pulls a format-oci image with the registry digest', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const tag = 'layers-2_size-16k_format-oci';
    const manifest = await fetchJson<{ config: { digest: string } }>(`${registry.url}/v2/broken/random/manifests/${tag}`);
    const head = await fetch(`${registry.url}/v2/broken/random/manifests/${tag}`, { method: 'HEAD', signal: AbortSignal.timeout(10_000) });
    assert.equal(await pull(tag), head.headers.get('docker-content-digest'));
    const image = await inspect(tag);
    assert.equal(image.Id, manifest.config.digest);
    assert.equal(image.RootFS.Layers.length, 2);
  });

  test('docker pulls a platforms-2 manifest list and picks linux/amd64', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const tag = 'layers-1_size-1024_platforms-2';
    const children = await childrenOf(registry, tag);
    assert.equal(await pull(tag), GOLDEN_DOCKER_LIST_2, 'docker reports the list digest');
    const image = await inspect(tag);
    assert.deepEqual([image.Os, image.Architecture], ['linux', 'amd64']);
    assert.equal(image.Id, children.get('linux/amd64')?.config);
    assert.notEqual(image.Id, children.get('linux/arm64')?.config);
  });

  test('docker pulls an index with buildx attestations and runs nothing of them: it picks linux/amd64', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const tag = 'layers-1_size-1k_platforms-2_attest-1';
    const children = await childrenOf(registry, tag);
    const head = await fetch(`${registry.url}/v2/broken/random/manifests/${tag}`, { method: 'HEAD', signal: AbortSignal.timeout(10_000) });
    assert.equal(await pull(tag), head.headers.get('docker-content-digest'));
    const image = await inspect(tag);
    assert.deepEqual([image.Os, image.Architecture], ['linux', 'amd64']);
    assert.equal(image.Id, children.get('linux/amd64')?.config);
  });
});
