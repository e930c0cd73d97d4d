// Pushing over real HTTP: every upload flow, mounts, manifest PUT, limits, and what is (not) left in
// the store when a push fails or is cut off.
import type { FsStore } from '../src/store/store.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { startRegistry, type TestRegistry } from './helpers/registry.js';
import {
  OCI_MANIFEST,
  REPO,
  call,
  type CallInit,
  content,
  eventually,
  expectError,
  getBytes,
  listFiles,
  manifestFrom,
  ociImage,
  pushBlob,
  pushImage,
  pushManifest,
  randomContent,
  sha256,
  type Content,
} from './helpers/oci-http.js';

async function startUpload(registry: TestRegistry, name = REPO): Promise<{ location: string; uuid: string }> {
  const response = await call(registry, `/v2/${name}/blobs/uploads/`, { method: 'POST' });
  await response.arrayBuffer();
  assert.equal(response.status, 202);
  const location = response.headers.get('location');
  const uuid = response.headers.get('docker-upload-uuid');
  assert.ok(location, 'a Location');
  assert.ok(uuid, 'a Docker-Upload-UUID');
  assert.equal(response.headers.get('range'), '0-0');
  assert.ok(location.endsWith(`/blobs/uploads/${uuid}`), location);
  return { location, uuid };
}

/** Follows a Location the way clients do: relative to the registry, query string kept. */
function withDigest(location: string, digest: string): string {
  return `${location}${location.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
}

async function expectBlob(registry: TestRegistry, name: string, blob: Content): Promise<void> {
  const { response, body } = await getBytes(registry, `/v2/${name}/blobs/${blob.digest}`);
  assert.equal(response.status, 200, `blob ${blob.digest} in ${name}`);
  assert.deepEqual(body, blob.bytes);
}

/** Store files outside the upload sessions (which a cut-off chunk may legitimately keep). */
async function contentFiles(registry: TestRegistry): Promise<string[]> {
  const files = await listFiles(registry.storeDir);
  return files.filter((file) => file.startsWith(`blobs${path.sep}`) || file.startsWith(`tmp${path.sep}`));
}

test('monolithic POST ?digest= stores the blob and answers 201 with Location and digest', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(50_000, 11);
  const response = await call(registry, `/v2/${REPO}/blobs/uploads/?digest=${blob.digest}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: blob.bytes,
  });
  assert.equal(response.status, 201);
  assert.equal(response.headers.get('docker-content-digest'), blob.digest);
  assert.equal(response.headers.get('location'), `/v2/${REPO}/blobs/${blob.digest}`);
  await expectBlob(registry, REPO, blob);
});

test('the same blob pushed many times at once is stored once and nothing is left in tmp/', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(300_000, 18);
  const names = Array.from({ length: 6 }, (_, i) => `${REPO}/parallel${i % 3}`);
  await Promise.all(names.map((name) => pushBlob(registry, name, blob)));
  for (const name of new Set(names)) await expectBlob(registry, name, blob);
  const files = await listFiles(registry.storeDir);
  assert.deepEqual(files.filter((file) => file.startsWith(`tmp${path.sep}`)), []);
  assert.equal(files.filter((file) => file.startsWith(`blobs${path.sep}`)).length, 1);
});

test('POST to /blobs/uploads without the trailing slash starts a session too', async (t) => {
  const registry = await startRegistry(t);
  const response = await call(registry, `/v2/${REPO}/blobs/uploads`, { method: 'POST' });
  assert.equal(response.status, 202);
  assert.ok(response.headers.get('docker-upload-uuid'));
});

test('a sha512 digest is verified and served under that digest', async (t) => {
  const registry = await startRegistry(t);
  const bytes = Buffer.from('sha512 content');
  const digest = `sha512:${createHash('sha512').update(bytes).digest('hex')}`;
  const response = await call(registry, `/v2/${REPO}/blobs/uploads/?digest=${digest}`, { method: 'POST', body: bytes });
  assert.equal(response.status, 201);
  assert.equal(response.headers.get('docker-content-digest'), digest);
  await expectBlob(registry, REPO, { bytes, digest, size: bytes.length });
});

test('POST then PUT with the whole body stores the blob and ends the session', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(10_000, 12);
  const { location, uuid } = await startUpload(registry);
  const put = await call(registry, withDigest(location, blob.digest), {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: blob.bytes,
  });
  assert.equal(put.status, 201);
  assert.equal(put.headers.get('docker-content-digest'), blob.digest);
  assert.equal(put.headers.get('location'), `/v2/${REPO}/blobs/${blob.digest}`);
  await expectBlob(registry, REPO, blob);
  await expectError(await call(registry, `/v2/${REPO}/blobs/uploads/${uuid}`), 404, 'BLOB_UPLOAD_UNKNOWN');
});

test('chunked PATCH uploads with Content-Range, then a PUT with the last chunk', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(30_000, 13);
  const { location, uuid } = await startUpload(registry);
  const chunks = [blob.bytes.subarray(0, 10_000), blob.bytes.subarray(10_000, 25_000)];
  let offset = 0;
  let next = location;
  for (const chunk of chunks) {
    const response = await call(registry, next, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Range': `${offset}-${offset + chunk.length - 1}` },
      body: chunk,
    });
    await response.arrayBuffer();
    offset += chunk.length;
    assert.equal(response.status, 202);
    assert.equal(response.headers.get('range'), `0-${offset - 1}`);
    assert.equal(response.headers.get('docker-upload-uuid'), uuid);
    next = response.headers.get('location') ?? '';
    assert.ok(next.endsWith(uuid));
  }
  // The status endpoint agrees.
  const status = await call(registry, next);
  await status.arrayBuffer();
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), `0-${offset - 1}`);
  assert.equal(status.headers.get('docker-upload-uuid'), uuid);
  assert.ok(status.headers.get('location')?.endsWith(uuid));

  const put = await call(registry, withDigest(next, blob.digest), { method: 'PUT', body: blob.bytes.subarray(offset) });
  assert.equal(put.status, 201);
  await expectBlob(registry, REPO, blob);
});

test('chunked PATCH without Content-Range (streamed) then an empty PUT', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(5_000, 14);
  const { location } = await startUpload(registry);
  const first = await call(registry, location, { method: 'PATCH', body: blob.bytes.subarray(0, 2_000) });
  assert.equal(first.status, 202);
  assert.equal(first.headers.get('range'), '0-1999');
  const second = await call(registry, location, { method: 'PATCH', body: blob.bytes.subarray(2_000) });
  assert.equal(second.status, 202);
  assert.equal(second.headers.get('range'), '0-4999');
  const put = await call(registry, withDigest(location, blob.digest), { method: 'PUT' });
  assert.equal(put.status, 201);
  await expectBlob(registry, REPO, blob);
});

test("a pushed body's memory is freed as soon as it is in the file, monolithic and chunked", async (t) => {
  const registry = await startRegistry(t);
  // The same chunk objects the server reads, seen from a second listener (paused at once, so that
  // nothing flows before the handler reads the body itself).
  const seen: Uint8Array[] = [];
  registry.server.server.on('request', (req: IncomingMessage) => {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    req.on('data', (chunk: Uint8Array) => seen.push(chunk));
    req.pause();
  });
  const blob = randomContent(4_000_000, 31);
  const post = await call(registry, `/v2/${REPO}/blobs/uploads/?digest=${blob.digest}`, { method: 'POST', body: blob.bytes });
  assert.equal(post.status, 201);
  const { location } = await startUpload(registry);
  const patch = await call(registry, location, { method: 'PATCH', body: blob.bytes.subarray(0, 3_000_000) });
  assert.equal(patch.status, 202);
  const put = await call(registry, withDigest(patch.headers.get('location') ?? '', blob.digest), { method: 'PUT', body: blob.bytes.subarray(3_000_000) });
  assert.equal(put.status, 201);
  await expectBlob(registry, REPO, blob);
  const received = seen.length;
  assert.ok(received > 3, `the bodies came in chunks (${received})`);
  const kept = seen.filter((chunk) => chunk.byteLength > 0);
  assert.deepEqual(kept.map((chunk) => chunk.byteLength), [], 'every chunk of the three bodies is detached once written');
});

/** Stops the store's hashing thread as a crash would; returns false when none was running. */
async function killHashingThread(registry: TestRegistry): Promise<boolean> {
  const thread = ((registry.deps.store as FsStore).hasher as unknown as { worker?: { terminate(): Promise<number> } }).worker;
  await thread?.terminate();
  return thread !== undefined;
}

test('an upload whose hashing thread died on the way is hashed again from its file and completes', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(50_000, 15);
  const { location } = await startUpload(registry);
  const first = await call(registry, location, { method: 'PATCH', body: blob.bytes.subarray(0, 20_000) });
  assert.equal(first.status, 202);
  assert.ok(await killHashingThread(registry), 'the session has a hashing thread');
  const second = await call(registry, location, { method: 'PATCH', body: blob.bytes.subarray(20_000) });
  assert.equal(second.status, 202);
  const put = await call(registry, withDigest(location, blob.digest), { method: 'PUT' });
  assert.equal(put.status, 201);
  await expectBlob(registry, REPO, blob);
  // A wrong digest is still refused on the same path.
  const other = await startUpload(registry);
  await (await call(registry, other.location, { method: 'PATCH', body: blob.bytes })).arrayBuffer();
  assert.ok(await killHashingThread(registry));
  const wrong = await call(registry, withDigest(other.location, `sha256:${'0'.repeat(64)}`), { method: 'PUT' });
  assert.equal(wrong.status, 400);
  assert.equal(((await wrong.json()) as { errors: { code: string }[] }).errors[0]?.code, 'DIGEST_INVALID');
});

test('a chunk out of order answers 416 with a Range header saying how much was received', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(2_000, 15);
  const { location } = await startUpload(registry);
  const first = await call(registry, location, {
    method: 'PATCH',
    headers: { 'Content-Range': '0-999' },
    body: blob.bytes.subarray(0, 1000),
  });
  assert.equal(first.status, 202);
  for (const range of ['1500-1999', '0-999', '500-1499']) {
    const skipped = await call(registry, location, {
      method: 'PATCH',
      headers: { 'Content-Range': range },
      body: blob.bytes.subarray(0, 500),
    });
    assert.equal(skipped.headers.get('range'), '0-999', range);
    await expectError(skipped, 416, 'RANGE_INVALID');
  }
  // The session still holds the first chunk and the upload can be completed.
  const status = await call(registry, location);
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), '0-999');
  const rest = await call(registry, location, { method: 'PATCH', headers: { 'Content-Range': '1000-1999' }, body: blob.bytes.subarray(1000) });
  assert.equal(rest.status, 202);
  const put = await call(registry, withDigest(location, blob.digest), { method: 'PUT' });
  assert.equal(put.status, 201);
  await expectBlob(registry, REPO, blob);
});

test('a malformed Content-Range is refused with RANGE_INVALID', async (t) => {
  const registry = await startRegistry(t);
  const { location } = await startUpload(registry);
  for (const range of ['garbage', '10-5', '-5']) {
    const response = await call(registry, location, { method: 'PATCH', headers: { 'Content-Range': range }, body: 'xxxxx' });
    await expectError(response, 416, 'RANGE_INVALID');
  }
});

test('DELETE cancels an upload: 204, then the session is unknown', async (t) => {
  const registry = await startRegistry(t);
  const { location, uuid } = await startUpload(registry);
  const patch = await call(registry, location, { method: 'PATCH', body: 'some bytes' });
  assert.equal(patch.status, 202);
  const cancel = await call(registry, location, { method: 'DELETE' });
  assert.equal(cancel.status, 204);
  await expectError(await call(registry, location), 404, 'BLOB_UPLOAD_UNKNOWN');
  await expectError(await call(registry, location, { method: 'PATCH', body: 'more' }), 404, 'BLOB_UPLOAD_UNKNOWN');
  await expectError(await call(registry, withDigest(location, sha256('some bytes')), { method: 'PUT' }), 404, 'BLOB_UPLOAD_UNKNOWN');
  await expectError(await call(registry, location, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN');
  assert.ok(!(await listFiles(registry.storeDir)).some((file) => file.includes(uuid)), 'nothing of the session is left');
});

test('an upload session used from another repository is BLOB_UPLOAD_UNKNOWN', async (t) => {
  const registry = await startRegistry(t);
  const blob = content('cross-repo session');
  const { uuid } = await startUpload(registry, `${REPO}/one`);
  const other = `/v2/${REPO}/two/blobs/uploads/${uuid}`;
  await expectError(await call(registry, other), 404, 'BLOB_UPLOAD_UNKNOWN');
  await expectError(await call(registry, other, { method: 'PATCH', body: blob.bytes }), 404, 'BLOB_UPLOAD_UNKNOWN');
  await expectError(await call(registry, withDigest(other, blob.digest), { method: 'PUT', body: blob.bytes }), 404, 'BLOB_UPLOAD_UNKNOWN');
  await expectError(await call(registry, other, { method: 'DELETE' }), 404, 'BLOB_UPLOAD_UNKNOWN');
  await expectError(await call(registry, `/v2/${REPO}/two/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN');
  // The owner can still use it.
  const status = await call(registry, `/v2/${REPO}/one/blobs/uploads/${uuid}`);
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), '0-0');
});

test('an unknown or malformed upload id is BLOB_UPLOAD_UNKNOWN', async (t) => {
  const registry = await startRegistry(t);
  for (const id of ['00000000-0000-0000-0000-000000000000', 'not-a-uuid', 'x'.repeat(300)]) {
    await expectError(await call(registry, `/v2/${REPO}/blobs/uploads/${id}`), 404, 'BLOB_UPLOAD_UNKNOWN');
    await expectError(await call(registry, `/v2/${REPO}/blobs/uploads/${id}`, { method: 'PATCH', body: 'x' }), 404, 'BLOB_UPLOAD_UNKNOWN');
  }
});

test('cross-repository mount answers 201 when the blob is in the source repository', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(4_000, 16);
  await pushBlob(registry, `${REPO}/source`, blob);
  const response = await call(registry, `/v2/${REPO}/target/blobs/uploads/?mount=${blob.digest}&from=${REPO}/source`, { method: 'POST' });
  assert.equal(response.status, 201);
  assert.equal(response.headers.get('location'), `/v2/${REPO}/target/blobs/${blob.digest}`);
  assert.equal(response.headers.get('docker-content-digest'), blob.digest);
  await expectBlob(registry, `${REPO}/target`, blob);
});

test('a mount that cannot be done falls back to an upload session (202)', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(4_000, 17);
  await pushBlob(registry, `${REPO}/source`, blob);
  const absent = sha256('not anywhere');
  const attempts = [
    `mount=${absent}&from=${REPO}/source`, // not in the source
    `mount=${blob.digest}&from=${REPO}/elsewhere`, // source does not have it
    `mount=${blob.digest}&from=NOT..VALID`, // invalid source name
    `mount=${blob.digest}&from=..%2F..%2Fetc`, // traversal as source name
    `mount=${blob.digest}`, // no source at all
    `mount=sha256:short&from=${REPO}/source`, // invalid digest
  ];
  for (const query of attempts) {
    const response = await call(registry, `/v2/${REPO}/target/blobs/uploads/?${query}`, { method: 'POST' });
    await response.arrayBuffer();
    assert.equal(response.status, 202, query);
    const uuid = response.headers.get('docker-upload-uuid');
    assert.ok(uuid, query);
    assert.ok(response.headers.get('location')?.endsWith(uuid), query);
  }
  await expectError(await call(registry, `/v2/${REPO}/target/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN');
});

test('a manifest PUT by tag and by digest answers 201 with Location and digest', async (t) => {
  const registry = await startRegistry(t);
  const image = ociImage({ seed: 20 });
  const byTag = await pushImage(registry, REPO, 'v1', image);
  assert.equal(byTag.headers.get('location'), `/v2/${REPO}/manifests/${image.manifest.digest}`);

  const other = ociImage({ seed: 21 });
  const byDigest = await pushImage(registry, REPO, other.manifest.digest, other);
  assert.equal(byDigest.headers.get('location'), `/v2/${REPO}/manifests/${other.manifest.digest}`);
  const got = await getBytes(registry, `/v2/${REPO}/manifests/${other.manifest.digest}`);
  assert.equal(got.response.status, 200);
  assert.deepEqual(got.body, other.manifest.bytes);
  // Pushed by digest only: no tag was made.
  const tags = (await (await call(registry, `/v2/${REPO}/tags/list`)).json()) as { tags: string[] };
  assert.deepEqual(tags.tags, ['v1']);
});

test('a manifest PUT by a sha512 digest is stored and served under that digest', async (t) => {
  const registry = await startRegistry(t);
  const image = ociImage({ seed: 26 });
  for (const blob of [image.config, ...image.layers]) await pushBlob(registry, REPO, blob);
  const digest = `sha512:${createHash('sha512').update(image.manifest.bytes).digest('hex')}`;
  const put = await call(registry, `/v2/${REPO}/manifests/${digest}`, {
    method: 'PUT',
    headers: { 'Content-Type': OCI_MANIFEST },
    body: image.manifest.bytes,
  });
  assert.equal(put.status, 201);
  assert.equal(put.headers.get('docker-content-digest'), digest);
  const got = await getBytes(registry, `/v2/${REPO}/manifests/${digest}`);
  assert.equal(got.response.status, 200);
  assert.equal(got.response.headers.get('docker-content-digest'), digest);
  assert.ok(got.body.equals(image.manifest.bytes));
});

test('a tag pushed again moves to the new manifest', async (t) => {
  const registry = await startRegistry(t);
  const first = ociImage({ seed: 22 });
  const second = ociImage({ seed: 23 });
  await pushImage(registry, REPO, 'moving', first);
  await pushImage(registry, REPO, 'moving', second);
  const got = await getBytes(registry, `/v2/${REPO}/manifests/moving`);
  assert.equal(got.response.headers.get('docker-content-digest'), second.manifest.digest);
  // The first revision is still there by digest.
  assert.equal((await getBytes(registry, `/v2/${REPO}/manifests/${first.manifest.digest}`)).response.status, 200);
});

test('a manifest PUT whose digest does not match its body is DIGEST_INVALID and stores nothing', async (t) => {
  const registry = await startRegistry(t);
  const image = ociImage({ seed: 24 });
  for (const blob of [image.config, ...image.layers]) await pushBlob(registry, REPO, blob);
  const before = await listFiles(registry.storeDir);
  const wrong = sha256('something else');
  const response = await call(registry, `/v2/${REPO}/manifests/${wrong}`, {
    method: 'PUT',
    headers: { 'Content-Type': OCI_MANIFEST },
    body: image.manifest.bytes,
  });
  await expectError(response, 400, 'DIGEST_INVALID');
  await expectError(await call(registry, `/v2/${REPO}/manifests/${wrong}`), 404, 'MANIFEST_UNKNOWN');
  await expectError(await call(registry, `/v2/${REPO}/manifests/${image.manifest.digest}`), 404, 'MANIFEST_UNKNOWN');
  assert.deepEqual(await listFiles(registry.storeDir), before, 'no file was added to the store');
});

test('manifests are stored byte for byte with the media type they were pushed with', async (t) => {
  const registry = await startRegistry(t);
  const image = ociImage({ seed: 25 });
  for (const blob of [image.config, ...image.layers]) await pushBlob(registry, REPO, blob);
  const layer = image.layers[0];
  assert.ok(layer);
  // Odd whitespace, key order, a trailing newline, a CRLF, unicode: none of it may be re-encoded.
  const odd =
    `{\r\n  "layers" : [ {"size":${layer.size},   "digest":"${layer.digest}","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip"} ],\n` +
    `\t"config":{"digest":"${image.config.digest}","size":${image.config.size},"mediaType":"application/vnd.oci.image.config.v1+json"},` +
    `"annotations":{"note":"caf\u00e9 \\u00e9 \u{1F600}"},  "schemaVersion" : 2\n}\n\n`;
  const cases = [
    manifestFrom(odd, OCI_MANIFEST),
    manifestFrom(odd.replace('"schemaVersion"', '"mediaType":"application/vnd.example.custom+json","schemaVersion"'), 'application/vnd.example.custom+json'),
    manifestFrom('not even json, but pushed anyway', 'application/vnd.example.opaque'),
    manifestFrom(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }), 'application/vnd.docker.distribution.manifest.v1+prettyjws'),
  ];
  for (const [index, manifest] of cases.entries()) {
    const tag = `odd-${index}`;
    await pushManifest(registry, REPO, tag, manifest);
    for (const reference of [tag, manifest.digest]) {
      const { response, body } = await getBytes(registry, `/v2/${REPO}/manifests/${reference}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), manifest.mediaType, `${tag} by ${reference}`);
      assert.equal(response.headers.get('docker-content-digest'), manifest.digest);
      assert.ok(body.equals(manifest.bytes), `${tag} comes back byte-identical`);
    }
  }
});

test('a manifest without Content-Type keeps the mediaType it declares', async (t) => {
  const registry = await startRegistry(t);
  const manifest = manifestFrom({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }, 'x');
  const response = await call(registry, `/v2/${REPO}/manifests/declared`, { method: 'PUT', body: manifest.bytes });
  assert.equal(response.status, 201);
  const got = await getBytes(registry, `/v2/${REPO}/manifests/declared`);
  assert.equal(got.response.headers.get('content-type'), 'application/vnd.oci.image.index.v1+json');
  assert.deepEqual(got.body, manifest.bytes);
});

test('an empty manifest body is MANIFEST_INVALID', async (t) => {
  const registry = await startRegistry(t);
  const response = await call(registry, `/v2/${REPO}/manifests/empty`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: '' });
  await expectError(response, 400, 'MANIFEST_INVALID');
  await expectError(await call(registry, `/v2/${REPO}/manifests/empty`), 404, 'MANIFEST_UNKNOWN');
});

test('manifests up to 4 MiB are accepted and larger ones refused with 413 TOO_LARGE', async (t) => {
  const registry = await startRegistry(t);
  const limit = 4 * 1024 * 1024;
  const padded = (size: number) => {
    const head = '{"schemaVersion":2,"annotations":{"pad":"';
    const tail = '"}}';
    return manifestFrom(head + 'x'.repeat(size - head.length - tail.length) + tail, OCI_MANIFEST);
  };
  const atLimit = padded(limit);
  assert.equal(atLimit.size, limit);
  await pushManifest(registry, REPO, 'at-limit', atLimit);

  const over = padded(limit + 1);
  const before = await listFiles(registry.storeDir);
  const response = await call(registry, `/v2/${REPO}/manifests/over-limit`, {
    method: 'PUT',
    headers: { 'Content-Type': OCI_MANIFEST },
    body: over.bytes,
  });
  await expectError(response, 413, 'TOO_LARGE');
  await expectError(await call(registry, `/v2/${REPO}/manifests/over-limit`), 404, 'MANIFEST_UNKNOWN');
  assert.deepEqual(await listFiles(registry.storeDir), before);
});

test('a manifest streamed without Content-Length is cut at 4 MiB with 413 TOO_LARGE', async (t) => {
  const registry = await startRegistry(t);
  const before = await listFiles(registry.storeDir);
  const chunk = new Uint8Array(64 * 1024).fill(0x20);
  let sent = 0;
  // Bounded: at most 6 MiB, and it stops as soon as the server has answered.
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= 6 * 1024 * 1024) controller.close();
      else {
        sent += chunk.length;
        controller.enqueue(chunk);
      }
    },
  });
  const response = await fetch(`${registry.url}/v2/${REPO}/manifests/streamed`, {
    method: 'PUT',
    headers: { 'Content-Type': OCI_MANIFEST },
    body,
    duplex: 'half',
    signal: AbortSignal.timeout(10_000),
  } as RequestInit);
  await expectError(response, 413, 'TOO_LARGE');
  assert.deepEqual(await listFiles(registry.storeDir), before);
  assert.equal((await call(registry, '/v2/')).status, 200);
});

test('an upload whose content does not match its digest is DIGEST_INVALID and leaves no file in the store', async (t) => {
  const registry = await startRegistry(t);
  const before = await listFiles(registry.storeDir);
  const blob = randomContent(20_000, 30);
  const wrong = sha256('a different blob');

  // Monolithic.
  const monolithic = await call(registry, `/v2/${REPO}/blobs/uploads/?digest=${wrong}`, { method: 'POST', body: blob.bytes });
  await expectError(monolithic, 400, 'DIGEST_INVALID');

  // POST then PUT.
  const single = await startUpload(registry);
  await expectError(await call(registry, withDigest(single.location, wrong), { method: 'PUT', body: blob.bytes }), 400, 'DIGEST_INVALID');

  // Chunks, then an empty PUT.
  const chunked = await startUpload(registry);
  const patch = await call(registry, chunked.location, { method: 'PATCH', body: blob.bytes });
  assert.equal(patch.status, 202);
  await expectError(await call(registry, withDigest(chunked.location, wrong), { method: 'PUT' }), 400, 'DIGEST_INVALID');

  // The session ended with the failure.
  await expectError(await call(registry, chunked.location), 404, 'BLOB_UPLOAD_UNKNOWN');
  for (const digest of [wrong, blob.digest]) {
    await expectError(await call(registry, `/v2/${REPO}/blobs/${digest}`), 404, 'BLOB_UNKNOWN');
  }
  assert.deepEqual(await listFiles(registry.storeDir), before, 'no blob, no upload session, nothing in tmp/');
});

test('a PUT without a valid digest parameter is DIGEST_INVALID and keeps the session', async (t) => {
  const registry = await startRegistry(t);
  const { location } = await startUpload(registry);
  await expectError(await call(registry, location, { method: 'PUT' }), 400, 'DIGEST_INVALID');
  await expectError(await call(registry, withDigest(location, 'sha256:abc'), { method: 'PUT' }), 400, 'DIGEST_INVALID');
  assert.equal((await call(registry, location)).status, 204);
});

/** Sends a request head declaring length bytes, then only part of the body, then destroys the socket. */
async function cutOffUpload(registry: TestRegistry, method: string, requestPath: string, length: number, sent: Buffer): Promise<void> {
  const socket = net.connect(registry.port, '127.0.0.1');
  socket.setTimeout(10_000, () => socket.destroy(new Error('cut-off upload: socket timed out')));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const head =
    `${method} ${requestPath} HTTP/1.1\r\nHost: ${registry.host}\r\nContent-Type: application/octet-stream\r\n` +
    `Content-Length: ${length}\r\n\r\n`;
  await new Promise<void>((resolve, reject) => socket.write(Buffer.concat([Buffer.from(head), sent]), (error) => (error ? reject(error) : resolve())));
  // Wait until the server has at least begun writing the body somewhere, so the cut really is mid-body.
  await eventually(async () => (await listFiles(registry.storeDir)).some((file) => file.startsWith(`tmp${path.sep}`) || file.endsWith(`${path.sep}data`)));
  socket.destroy();
}

test('an upload cut off mid-body leaves nothing in blobs/ or tmp/, and the server keeps serving', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(2 * 1024 * 1024, 31);
  const partial = blob.bytes.subarray(0, 256 * 1024);

  await cutOffUpload(registry, 'POST', `/v2/${REPO}/blobs/uploads/?digest=${blob.digest}`, blob.size, partial);
  assert.ok(await eventually(async () => (await contentFiles(registry)).length === 0), `monolithic: left ${(await contentFiles(registry)).join(', ')}`);

  const put = await startUpload(registry);
  await cutOffUpload(registry, 'PUT', `${put.location}?digest=${blob.digest}`, blob.size, partial);
  assert.ok(await eventually(async () => (await contentFiles(registry)).length === 0), `PUT: left ${(await contentFiles(registry)).join(', ')}`);

  const chunked = await startUpload(registry);
  const first = await call(registry, chunked.location, { method: 'PATCH', body: blob.bytes.subarray(0, 1000) });
  assert.equal(first.status, 202);
  await cutOffUpload(registry, 'PATCH', chunked.location, blob.size - 1000, blob.bytes.subarray(1000, 200_000));
  assert.ok(await eventually(async () => (await contentFiles(registry)).length === 0), `PATCH: left ${(await contentFiles(registry)).join(', ')}`);
  // The cut-off chunk was rolled back: the session still holds exactly the first chunk.
  assert.ok(
    await eventually(async () => {
      const status = await call(registry, chunked.location);
      return status.status === 204 && status.headers.get('range') === '0-999';
    }),
    'the session is back at its first chunk',
  );
  const rest = await call(registry, withDigest(chunked.location, blob.digest), { method: 'PUT', body: blob.bytes.subarray(1000) });
  assert.equal(rest.status, 201);
  await expectBlob(registry, REPO, blob);
  assert.equal((await call(registry, '/v2/')).status, 200);
});

test('pushes outside broken/prepared are DENIED with a message naming broken/prepared', async (t) => {
  const registry = await startRegistry(t);
  const image = ociImage({ seed: 40 });
  // Read-only scenarios: they exist, but nothing can be pushed to them.
  for (const name of ['broken/error', 'broken/error/500', 'broken/timeout', 'broken/random']) {
    const attempts: [string, CallInit][] = [
      [`/v2/${name}/blobs/uploads/`, { method: 'POST' }],
      [`/v2/${name}/blobs/uploads/?digest=${image.config.digest}`, { method: 'POST', body: image.config.bytes }],
      [`/v2/${name}/manifests/v1`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: image.manifest.bytes }],
      [`/v2/${name}/manifests/${image.manifest.digest}`, { method: 'DELETE' }],
      [`/v2/${name}/blobs/${image.config.digest}`, { method: 'DELETE' }],
    ];
    for (const [requestPath, init] of attempts) {
      const error = await expectError(await call(registry, requestPath, init), 403, 'DENIED');
      assert.match(error.message, /broken\/prepared/, `${init.method} ${requestPath}: ${error.message}`);
    }
  }
});

test(
  'pushes to proxied names are DENIED too, naming broken/prepared',
  async (t) => {
    const registry = await startRegistry(t);
    const image = ociImage({ seed: 41 });
    for (const name of ['library/alpine', 'quay.io/some/image']) {
      const response = await call(registry, `/v2/${name}/manifests/v1`, {
        method: 'PUT',
        headers: { 'Content-Type': OCI_MANIFEST },
        body: image.manifest.bytes,
      });
      const error = await expectError(response, 403, 'DENIED');
      assert.match(error.message, /broken\/prepared/);
    }
  },
);
