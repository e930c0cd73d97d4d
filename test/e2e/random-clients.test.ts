// podman and skopeo pull broken/random images: the same digests as the server's, every blob intact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { makeTempDir, startRegistry } from '../helpers/registry.js';
import { createPodman, createSkopeo, ok, requireTools } from '../helpers/clients.js';
import { readOciLayout } from '../helpers/images.js';

const GOLDEN_LAYERS_3_SIZE_1024_SEED_7 = 'sha256:5b01a463677c4c2ce8500d0e29ad219f513f514281c6d59ed09209e2a45ff59a';

test('skopeo copies broken/random out with the golden digest and intact blobs', { timeout: 120_000 }, async (t) => {
  if (!requireTools(t, 'skopeo')) return;
  const registry = await startRegistry(t);
  const skopeo = await createSkopeo(t, [registry.host]);
  const work = await makeTempDir(t);
  const ref = `docker://${registry.host}/broken/random:layers-3_size-1024_seed-7`;
  const inspected = JSON.parse(ok(await skopeo.inspect(ref)).stdout) as { Digest: string; Layers: string[] };
  assert.equal(inspected.Digest, GOLDEN_LAYERS_3_SIZE_1024_SEED_7);
  assert.equal(inspected.Layers.length, 3);
  const out = path.join(work, 'random');
  ok(await skopeo.copy(ref, `oci:${out}:copy`, ['--preserve-digests']));
  const copied = await readOciLayout(out, 'copy');
  assert.equal(copied.digest, GOLDEN_LAYERS_3_SIZE_1024_SEED_7);
});

test('podman pulls broken/random and gets the registry digest', { timeout: 120_000 }, async (t) => {
  if (!requireTools(t, 'podman')) return;
  const registry = await startRegistry(t);
  const podman = await createPodman(t, [registry.host]);
  const ref = `${registry.host}/broken/random:layers-2_size-64k_seed-1`;
  ok(await podman.pull(ref, [], { timeoutMs: 90_000 }));
  const head = await fetch(`${registry.url}/v2/broken/random/manifests/layers-2_size-64k_seed-1`, {
    method: 'HEAD',
    signal: AbortSignal.timeout(5000),
  });
  const digest = head.headers.get('docker-content-digest');
  const inspected = JSON.parse(ok(await podman.run(['image', 'inspect', ref])).stdout) as { Digest: string; RootFS: { Layers: string[] } }[];
  assert.equal(inspected[0]?.Digest, digest);
  assert.equal(inspected[0]?.RootFS.Layers.length, 2);
});
