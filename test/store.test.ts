// The store on disk, seen through HTTP: everything survives a restart, and stale temp files of dead
// processes are cleared when the store opens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir, startRegistry } from './helpers/registry.js';
import {
  DOCKER_MANIFEST,
  REPO,
  call,
  descriptor,
  getBytes,
  listFiles,
  manifestFrom,
  ociArtifact,
  ociImage,
  pushBlob,
  pushImage,
  pushManifest,
  randomContent,
  OCI_MANIFEST,
} from './helpers/oci-http.js';

test('blobs, manifests, tags, referrers and upload sessions survive a restart byte for byte', async (t) => {
  const storeDir = await makeTempDir(t);
  const first = await startRegistry(t, { storeDir });
  const image = ociImage({ seed: 90, layerCount: 3, layerSize: 64 * 1024 });
  await pushImage(first, REPO, 'v1', image);
  const docker = manifestFrom(`{"schemaVersion":2,  "mediaType":"${DOCKER_MANIFEST}", "note":"odd spacing"}\n`, DOCKER_MANIFEST);
  await pushManifest(first, `${REPO}/nested/repo`, 'docker', docker);
  const artifact = ociArtifact(descriptor(image.manifest, OCI_MANIFEST), 'application/vnd.example.sig', 1);
  await pushImage(first, REPO, artifact.manifest.digest, artifact);

  // An upload in progress: half of a blob.
  const pending = randomContent(10_000, 91);
  const started = await call(first, `/v2/${REPO}/blobs/uploads/`, { method: 'POST' });
  const location = started.headers.get('location') ?? assert.fail('no Location');
  const patch = await call(first, location, { method: 'PATCH', body: pending.bytes.subarray(0, 4_000) });
  assert.equal(patch.status, 202);

  await first.stop();
  await assert.rejects(call(first, '/v2/'), 'the first server is gone');

  const second = await startRegistry(t, { storeDir });
  assert.notEqual(second.port, 0);
  for (const reference of ['v1', image.manifest.digest]) {
    const { response, body } = await getBytes(second, `/v2/${REPO}/manifests/${reference}`);
    assert.equal(response.status, 200, reference);
    assert.equal(response.headers.get('content-type'), OCI_MANIFEST);
    assert.equal(response.headers.get('docker-content-digest'), image.manifest.digest);
    assert.ok(body.equals(image.manifest.bytes));
  }
  for (const blob of [image.config, ...image.layers]) {
    const { response, body } = await getBytes(second, `/v2/${REPO}/blobs/${blob.digest}`);
    assert.equal(response.status, 200);
    assert.ok(body.equals(blob.bytes), `blob ${blob.digest}`);
  }
  const dockerBack = await getBytes(second, `/v2/${REPO}/nested/repo/manifests/docker`);
  assert.equal(dockerBack.response.headers.get('content-type'), DOCKER_MANIFEST);
  assert.ok(dockerBack.body.equals(docker.bytes));

  const tags = (await (await call(second, `/v2/${REPO}/tags/list`)).json()) as { tags: string[] };
  assert.deepEqual(tags.tags, ['v1']);
  const catalog = (await (await call(second, '/v2/_catalog')).json()) as { repositories: string[] };
  assert.deepEqual(catalog.repositories, [REPO, `${REPO}/nested/repo`]);
  const referrers = (await (await call(second, `/v2/${REPO}/referrers/${image.manifest.digest}`)).json()) as {
    manifests: { digest: string }[];
  };
  assert.deepEqual(
    referrers.manifests.map((entry) => entry.digest),
    [artifact.manifest.digest],
  );

  // The upload continues where it stopped, and its digest is checked against all of it.
  const status = await call(second, location);
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), '0-3999');
  const put = await call(second, `${location}?digest=${pending.digest}`, { method: 'PUT', body: pending.bytes.subarray(4_000) });
  assert.equal(put.status, 201);
  const { body: pendingBack } = await getBytes(second, `/v2/${REPO}/blobs/${pending.digest}`);
  assert.ok(pendingBack.equals(pending.bytes));
});

test('a blob is stored once on disk, whatever repositories use it', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(5_000, 92);
  for (const name of [REPO, `${REPO}/a`, `${REPO}/b`]) await pushBlob(registry, name, blob);
  const hex = blob.digest.slice('sha256:'.length);
  const copies = (await listFiles(registry.storeDir)).filter((file) => path.basename(file) === hex && file.startsWith('blobs'));
  assert.equal(copies.length, 1, copies.join(', '));
});

test('stale temp files of dead processes are removed when the store opens; live ones are kept', async (t) => {
  const storeDir = await makeTempDir(t);
  const first = await startRegistry(t, { storeDir });
  const blob = randomContent(1_000, 93);
  await pushBlob(first, REPO, blob);
  await first.stop();

  const tmp = path.join(storeDir, 'tmp');
  const deadPid = 2147483646;
  await fs.writeFile(path.join(tmp, `${deadPid}-x`), 'half a blob from a crashed writer');
  await fs.mkdir(path.join(tmp, `${deadPid}-dir`));
  await fs.writeFile(path.join(tmp, `${deadPid}-dir`, 'inner'), 'more');
  // This very process is alive: a writer in it (another store on the same directory) keeps its file.
  const live = `${process.pid}-live`;
  await fs.writeFile(path.join(tmp, live), 'in progress');

  const second = await startRegistry(t, { storeDir });
  assert.deepEqual(await fs.readdir(tmp), [live]);
  const { response, body } = await getBytes(second, `/v2/${REPO}/blobs/${blob.digest}`);
  assert.equal(response.status, 200);
  assert.ok(body.equals(blob.bytes));
});
