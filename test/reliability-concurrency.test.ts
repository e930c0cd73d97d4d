// Concurrency: many clients pushing the same image at once all succeed and the store keeps one copy
// of each blob; many clients pulling the same uncached random image at once all get the same digest
// from a single generation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startRegistry, makeTempDir, type TestRegistry } from './helpers/registry.js';
import { createSkopeo, ok, requireTools } from './helpers/clients.js';
import { REPO, call, getBytes, listFiles, ociImage, pushManifest, sha256, type Content, type ImageParts } from './helpers/oci-http.js';
import { assertStoreIntact, tmpEntries } from './helpers/integrity.js';

const CLIENTS = 20;

/** Pushes one blob the way client number i does: monolithic, POST then PUT, or two PATCHes then PUT. */
async function pushBlobAs(registry: TestRegistry, i: number, blob: Content): Promise<void> {
  const octets = { 'Content-Type': 'application/octet-stream' };
  if (i % 3 === 0) {
    const response = await call(registry, `/v2/${REPO}/blobs/uploads/?digest=${blob.digest}`, { method: 'POST', headers: octets, body: blob.bytes });
    assert.equal(response.status, 201, `client ${i}: monolithic push`);
    return;
  }
  const start = await call(registry, `/v2/${REPO}/blobs/uploads/`, { method: 'POST' });
  assert.equal(start.status, 202, `client ${i}: upload start`);
  const location = start.headers.get('location') ?? '';
  const separator = location.includes('?') ? '&' : '?';
  let body = blob.bytes;
  if (i % 3 === 2) {
    const half = Math.floor(blob.size / 2);
    const patch = await call(registry, location, { method: 'PATCH', headers: { ...octets, 'Content-Range': `0-${half - 1}` }, body: blob.bytes.subarray(0, half) });
    assert.equal(patch.status, 202, `client ${i}: PATCH`);
    body = blob.bytes.subarray(half);
  }
  const put = await call(registry, `${location}${separator}digest=${blob.digest}`, { method: 'PUT', headers: octets, body });
  assert.equal(put.status, 201, `client ${i}: PUT`);
}

async function pushAs(registry: TestRegistry, i: number, image: ImageParts): Promise<void> {
  await Promise.all([image.config, ...image.layers].map((blob) => pushBlobAs(registry, i, blob)));
  await pushManifest(registry, REPO, 'shared', image.manifest);
}

test(`${CLIENTS} clients (and 3 skopeo copies) pushing the same image at once all succeed; one copy of each blob`, async (t) => {
  const image = ociImage({ seed: 701, layerCount: 3, layerSize: 512 * 1024 });
  const withSkopeo = requireTools(t, 'skopeo');
  // The skopeo source: the same image as an OCI layout, taken from a first registry.
  const layout = path.join(await makeTempDir(t, 'broken-reg-concurrency-'), 'layout');
  const skopeo = withSkopeo ? await createSkopeo(t) : undefined;
  if (skopeo) {
    const source = await startRegistry(t);
    await pushAs(source, 0, image);
    ok(await skopeo.copy(`docker://${source.host}/${REPO}:shared`, `oci:${layout}:shared`, ['--preserve-digests'], { timeoutMs: 30_000 }));
  }

  const registry = await startRegistry(t);
  const pushes: Promise<unknown>[] = Array.from({ length: CLIENTS }, (_, i) => pushAs(registry, i, image));
  for (let i = 0; skopeo && i < 3; i++) {
    const destination = `docker://${registry.host}/${REPO}:shared`;
    pushes.push(skopeo.copy(`oci:${layout}:shared`, destination, ['--preserve-digests'], { timeoutMs: 60_000 }).then(ok));
  }
  const results = await Promise.allSettled(pushes);
  const failures = results.flatMap((result, i) => (result.status === 'rejected' ? [`client ${i}: ${String(result.reason).slice(0, 500)}`] : []));
  assert.deepEqual(failures, []);

  const blobFiles = (await listFiles(path.join(registry.storeDir, 'blobs'))).map((file) => file.split(path.sep).pop());
  const expected = [image.config, ...image.layers, image.manifest].map((item) => item.digest.split(':')[1]);
  assert.deepEqual(blobFiles.sort(), expected.sort(), 'exactly one file per blob and manifest');
  assert.deepEqual(await tmpEntries(registry.storeDir), [], 'no temp file left');
  assert.deepEqual(await listFiles(path.join(registry.storeDir, 'uploads')), [], 'no upload session left');
  await assertStoreIntact(registry.storeDir, 'after concurrent pushes');

  const manifest = await getBytes(registry, `/v2/${REPO}/manifests/shared`, { headers: { Accept: image.manifest.mediaType } });
  assert.equal(sha256(manifest.body), image.manifest.digest);
  for (const blob of [image.config, ...image.layers]) assert.equal(sha256((await getBytes(registry, `/v2/${REPO}/blobs/${blob.digest}`)).body), blob.digest);
});

test(`${CLIENTS} clients pulling the same uncached random image at once get the same digest from one generation`, async (t) => {
  const registry = await startRegistry(t);
  const store = registry.deps.store;
  let ingested = 0;
  const blobWriter = store.blobWriter.bind(store);
  store.blobWriter = (...args) => {
    ingested++;
    return blobWriter(...args);
  };

  // Half ask for the canonical tag, half for another spelling of the same parameters.
  const tags = Array.from({ length: CLIENTS }, (_, i) => (i % 2 === 0 ? 'layers-3_size-1m_seed-9' : 'seed-9_size-1024k_layers-3'));
  const pulls = tags.map(async (tag) => {
    const manifest = await getBytes(registry, `/v2/broken/random/manifests/${tag}`);
    assert.equal(manifest.response.status, 200, `${tag}: ${manifest.body.toString('utf8').slice(0, 200)}`);
    const parsed = JSON.parse(manifest.body.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
    for (const { digest } of [parsed.config, ...parsed.layers]) {
      assert.equal(sha256((await getBytes(registry, `/v2/broken/random/blobs/${digest}`)).body), digest);
    }
    return manifest.response.headers.get('docker-content-digest');
  });
  const digests = await Promise.all(pulls);
  assert.equal(new Set(digests).size, 1, `one digest: ${[...new Set(digests)].join(', ')}`);
  assert.equal(ingested, 4, 'three layers and a config, generated once');
  assert.deepEqual(await tmpEntries(registry.storeDir), []);
  await assertStoreIntact(registry.storeDir, 'after concurrent generation');
});
