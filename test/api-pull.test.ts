// Pulling over real HTTP: the base endpoint, manifests by tag and digest, blobs with Range, and the
// errors for what is not there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from './helpers/registry.js';
import {
  DOCKER_MANIFEST,
  REPO,
  call,
  type CallInit,
  content,
  expectError,
  getBytes,
  ociImage,
  pushBlob,
  pushImage,
  randomContent,
  sha256,
} from './helpers/oci-http.js';

const API_VERSION = 'registry/2.0';

test('GET and HEAD /v2/ answer 200 {} with the API version header', async (t) => {
  const registry = await startRegistry(t);
  for (const path of ['/v2/', '/v2']) {
    const response = await call(registry, path);
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get('docker-distribution-api-version'), API_VERSION);
    assert.deepEqual(await response.json(), {});
  }
  const head = await call(registry, '/v2/', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('docker-distribution-api-version'), API_VERSION);
  assert.equal((await head.arrayBuffer()).byteLength, 0);
});

test('the API version header is on every response, errors included', async (t) => {
  const registry = await startRegistry(t);
  const image = ociImage();
  await pushImage(registry, REPO, 'v1', image);
  const requests: [string, CallInit?][] = [
    [`/v2/${REPO}/manifests/v1`],
    [`/v2/${REPO}/manifests/v1`, { method: 'HEAD' }],
    [`/v2/${REPO}/blobs/${image.config.digest}`],
    [`/v2/${REPO}/tags/list`],
    ['/v2/_catalog'],
    [`/v2/${REPO}/manifests/missing`],
    [`/v2/${REPO}/blobs/${sha256('missing')}`],
    [`/v2/${REPO}/blobs/${image.config.digest}`, { headers: { Range: 'bytes=9999-' } }],
    ['/nothing-here'],
    ['/v2/', { method: 'POST' }],
    ['/v2/UPPER/manifests/latest'],
    [`/v2/${REPO}/blobs/uploads/`, { method: 'POST' }],
  ];
  for (const [path, init] of requests) {
    const response = await call(registry, path, init);
    await response.arrayBuffer();
    assert.equal(response.headers.get('docker-distribution-api-version'), API_VERSION, `${init?.method ?? 'GET'} ${path} (${response.status})`);
  }
});

test('a manifest pulls by tag and by digest with its stored media type, digest and length', async (t) => {
  const registry = await startRegistry(t);
  const image = ociImage({ seed: 7 });
  await pushImage(registry, REPO, 'v1', image);
  for (const reference of ['v1', image.manifest.digest]) {
    const { response, body } = await getBytes(registry, `/v2/${REPO}/manifests/${reference}`, {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(response.status, 200, reference);
    assert.equal(response.headers.get('content-type'), image.manifest.mediaType);
    assert.equal(response.headers.get('docker-content-digest'), image.manifest.digest);
    assert.equal(response.headers.get('content-length'), String(image.manifest.size));
    assert.deepEqual(body, image.manifest.bytes);
  }
});

test('HEAD on a manifest has the GET headers and no body', async (t) => {
  const registry = await startRegistry(t);
  // A Docker media type, so the stored type is not simply the OCI default.
  const image = ociImage({ seed: 8 });
  const docker = { ...image.manifest, mediaType: DOCKER_MANIFEST };
  for (const blob of [image.config, ...image.layers]) await pushBlob(registry, REPO, blob);
  const put = await call(registry, `/v2/${REPO}/manifests/docker`, {
    method: 'PUT',
    headers: { 'Content-Type': DOCKER_MANIFEST },
    body: docker.bytes,
  });
  assert.equal(put.status, 201);
  for (const reference of ['docker', docker.digest]) {
    const { response, body } = await getBytes(registry, `/v2/${REPO}/manifests/${reference}`, { method: 'HEAD' });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('content-type'), DOCKER_MANIFEST);
    assert.equal(response.headers.get('docker-content-digest'), docker.digest);
    assert.equal(response.headers.get('content-length'), String(docker.size));
    assert.equal(body.length, 0);
  }
});

test('a blob pulls with GET and answers HEAD with its length and digest, and no body', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(100_000, 3);
  await pushBlob(registry, REPO, blob);
  const got = await getBytes(registry, `/v2/${REPO}/blobs/${blob.digest}`);
  assert.equal(got.response.status, 200);
  assert.equal(got.response.headers.get('docker-content-digest'), blob.digest);
  assert.equal(got.response.headers.get('content-length'), String(blob.size));
  assert.equal(got.response.headers.get('accept-ranges'), 'bytes');
  assert.deepEqual(got.body, blob.bytes);

  const head = await getBytes(registry, `/v2/${REPO}/blobs/${blob.digest}`, { method: 'HEAD' });
  assert.equal(head.response.status, 200);
  assert.equal(head.response.headers.get('docker-content-digest'), blob.digest);
  assert.equal(head.response.headers.get('content-length'), String(blob.size));
  assert.equal(head.body.length, 0);
});

test('an empty blob pulls as zero bytes', async (t) => {
  const registry = await startRegistry(t);
  const empty = content('');
  await pushBlob(registry, REPO, empty);
  const got = await getBytes(registry, `/v2/${REPO}/blobs/${empty.digest}`);
  assert.equal(got.response.status, 200);
  assert.equal(got.response.headers.get('content-length'), '0');
  assert.equal(got.body.length, 0);
});

test('Range requests answer 206 with Content-Range: closed, open-ended and suffix ranges', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(1000, 4);
  await pushBlob(registry, REPO, blob);
  const cases: { range: string; start: number; end: number }[] = [
    { range: 'bytes=0-0', start: 0, end: 0 },
    { range: 'bytes=10-19', start: 10, end: 19 },
    { range: 'bytes=990-5000', start: 990, end: 999 }, // an end past the blob is clipped
    { range: 'bytes=900-', start: 900, end: 999 },
    { range: 'bytes=-100', start: 900, end: 999 },
    { range: 'bytes=-5000', start: 0, end: 999 }, // a suffix longer than the blob is the whole blob
  ];
  for (const { range, start, end } of cases) {
    const { response, body } = await getBytes(registry, `/v2/${REPO}/blobs/${blob.digest}`, { headers: { Range: range } });
    assert.equal(response.status, 206, range);
    assert.equal(response.headers.get('content-range'), `bytes ${start}-${end}/1000`, range);
    assert.equal(response.headers.get('content-length'), String(end - start + 1), range);
    assert.equal(response.headers.get('docker-content-digest'), blob.digest);
    assert.deepEqual(body, blob.bytes.subarray(start, end + 1), range);
  }
  const head = await getBytes(registry, `/v2/${REPO}/blobs/${blob.digest}`, { method: 'HEAD', headers: { Range: 'bytes=100-199' } });
  assert.equal(head.response.status, 206);
  assert.equal(head.response.headers.get('content-range'), 'bytes 100-199/1000');
  assert.equal(head.body.length, 0);
});

test('a Range that cannot be satisfied answers 416 with Content-Range bytes */size', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(1000, 5);
  await pushBlob(registry, REPO, blob);
  for (const range of ['bytes=1000-', 'bytes=5000-6000', 'bytes=-0']) {
    const response = await call(registry, `/v2/${REPO}/blobs/${blob.digest}`, { headers: { Range: range } });
    assert.equal(response.headers.get('content-range'), 'bytes */1000', range);
    await expectError(response, 416, 'RANGE_INVALID');
  }
});

test('a Range that is not a single byte range is ignored and the whole blob is sent', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(64, 6);
  await pushBlob(registry, REPO, blob);
  for (const range of ['bytes=0-1,5-6', 'items=0-5', 'bytes=9-3']) {
    const { response, body } = await getBytes(registry, `/v2/${REPO}/blobs/${blob.digest}`, { headers: { Range: range } });
    assert.equal(response.status, 200, range);
    assert.deepEqual(body, blob.bytes, range);
  }
});

test('unknown manifests answer MANIFEST_UNKNOWN and unknown blobs BLOB_UNKNOWN, on GET and HEAD', async (t) => {
  const registry = await startRegistry(t);
  const image = ociImage({ seed: 9 });
  await pushImage(registry, REPO, 'present', image);
  await expectError(await call(registry, `/v2/${REPO}/manifests/absent`), 404, 'MANIFEST_UNKNOWN');
  await expectError(await call(registry, `/v2/${REPO}/manifests/${sha256('nope')}`), 404, 'MANIFEST_UNKNOWN');
  await expectError(await call(registry, `/v2/${REPO}/blobs/${sha256('nope')}`), 404, 'BLOB_UNKNOWN');
  // A repository that was never pushed to.
  await expectError(await call(registry, `/v2/${REPO}/never/manifests/present`), 404, 'MANIFEST_UNKNOWN');
  await expectError(await call(registry, `/v2/${REPO}/never/blobs/${image.config.digest}`), 404, 'BLOB_UNKNOWN');
  // The manifest's own digest is a manifest, not a blob of the repository.
  await expectError(await call(registry, `/v2/${REPO}/never/manifests/${image.manifest.digest}`), 404, 'MANIFEST_UNKNOWN');

  for (const path of [`/v2/${REPO}/manifests/absent`, `/v2/${REPO}/blobs/${sha256('nope')}`]) {
    const head = await getBytes(registry, path, { method: 'HEAD' });
    assert.equal(head.response.status, 404, path);
    assert.equal(head.response.headers.get('docker-distribution-api-version'), API_VERSION);
    assert.equal(head.body.length, 0);
  }
});

test('a blob pushed to one repository is not pulled through another that never linked it', async (t) => {
  const registry = await startRegistry(t);
  const blob = content('only in a');
  await pushBlob(registry, `${REPO}/a`, blob);
  assert.equal((await getBytes(registry, `/v2/${REPO}/a/blobs/${blob.digest}`)).response.status, 200);
  await expectError(await call(registry, `/v2/${REPO}/b/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN');
});

test('a client that hangs up mid-download does not disturb the server', async (t) => {
  const registry = await startRegistry(t);
  const blob = randomContent(4 * 1024 * 1024, 10);
  await pushBlob(registry, REPO, blob);
  for (let i = 0; i < 3; i++) {
    const controller = new AbortController();
    const response = await fetch(`${registry.url}/v2/${REPO}/blobs/${blob.digest}`, {
      signal: AbortSignal.any([controller.signal, AbortSignal.timeout(10_000)]),
    });
    assert.equal(response.status, 200);
    const reader = response.body?.getReader();
    assert.ok(reader);
    const first = await reader.read();
    assert.ok(!first.done && first.value.length > 0);
    controller.abort();
    await reader.read().catch(() => undefined);
  }
  const whole = await getBytes(registry, `/v2/${REPO}/blobs/${blob.digest}`);
  assert.equal(whole.response.status, 200);
  assert.ok(whole.body.equals(blob.bytes));
});
