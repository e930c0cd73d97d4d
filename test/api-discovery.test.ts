// Discovery and deletion over real HTTP: tags/list, _catalog, the referrers API, and DELETE of
// manifests, tags and blobs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from './helpers/registry.js';
import {
  OCI_INDEX,
  OCI_MANIFEST,
  REPO,
  call,
  content,
  descriptor,
  expectError,
  getBytes,
  ociArtifact,
  ociImage,
  pushBlob,
  pushImage,
  pushManifest,
  sha256,
} from './helpers/oci-http.js';

async function json<T>(response: Response): Promise<T> {
  assert.equal(response.status, 200, `expected 200, got ${response.status}`);
  return (await response.json()) as T;
}

/** Pushes one small image under each tag (the same image: tags are cheap). */
async function pushTags(registry: TestRegistry, name: string, tags: string[]): Promise<void> {
  const image = ociImage({ seed: 50 });
  await pushImage(registry, name, tags[0] ?? 'latest', image);
  for (const tag of tags.slice(1)) await pushManifest(registry, name, tag, image.manifest);
}

test('tags/list returns the tags sorted', async (t) => {
  const registry = await startRegistry(t);
  await pushTags(registry, REPO, ['v2', 'latest', 'v10', 'A-upper', 'v1', '0']);
  const response = await call(registry, `/v2/${REPO}/tags/list`);
  assert.equal(response.headers.get('link'), null);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = await json<{ name: string; tags: string[] }>(response);
  assert.deepEqual(body, { name: REPO, tags: ['0', 'A-upper', 'latest', 'v1', 'v10', 'v2'] });
});

test('tags/list paginates with n and last and a Link header to the next page', async (t) => {
  const registry = await startRegistry(t);
  const tags = ['a', 'b', 'c', 'd', 'e'];
  await pushTags(registry, REPO, tags);

  const seen: string[] = [];
  let next: string | null = `/v2/${REPO}/tags/list?n=2`;
  for (let page = 0; next !== null && page < 10; page++) {
    const response: Response = await call(registry, next);
    const link = response.headers.get('link');
    const body = await json<{ tags: string[] }>(response);
    assert.ok(body.tags.length <= 2);
    seen.push(...body.tags);
    if (link === null) {
      next = null;
    } else {
      const match = /^<([^>]+)>; rel="next"$/.exec(link);
      assert.ok(match?.[1], `a Link header of the form <url>; rel="next": ${link}`);
      next = match[1];
      assert.ok(next.startsWith(`/v2/${REPO}/tags/list?`), next);
      assert.match(next, /n=2/);
    }
  }
  assert.deepEqual(seen, tags);

  const afterB = await json<{ tags: string[] }>(await call(registry, `/v2/${REPO}/tags/list?last=b`));
  assert.deepEqual(afterB.tags, ['c', 'd', 'e']);
  const one = await call(registry, `/v2/${REPO}/tags/list?n=1&last=c`);
  assert.equal(one.headers.get('link'), `</v2/${REPO}/tags/list?n=1&last=d>; rel="next"`);
  assert.deepEqual((await json<{ tags: string[] }>(one)).tags, ['d']);
  // Exactly the rest: no Link.
  const rest = await call(registry, `/v2/${REPO}/tags/list?n=3&last=b`);
  assert.equal(rest.headers.get('link'), null);
  assert.deepEqual((await json<{ tags: string[] }>(rest)).tags, ['c', 'd', 'e']);
  const none = await json<{ tags: string[] }>(await call(registry, `/v2/${REPO}/tags/list?n=0`));
  assert.deepEqual(none.tags, []);
  const pastEnd = await json<{ tags: string[] }>(await call(registry, `/v2/${REPO}/tags/list?last=zzz`));
  assert.deepEqual(pastEnd.tags, []);
});

test('a bad n is PAGINATION_NUMBER_INVALID, for tags and the catalog', async (t) => {
  const registry = await startRegistry(t);
  await pushTags(registry, REPO, ['a']);
  for (const n of ['-1', 'abc', '1.5', '', '0x10']) {
    await expectError(await call(registry, `/v2/${REPO}/tags/list?n=${n}`), 400, 'PAGINATION_NUMBER_INVALID');
    await expectError(await call(registry, `/v2/_catalog?n=${n}`), 400, 'PAGINATION_NUMBER_INVALID');
  }
});

test('tags/list of a repository that does not exist is NAME_UNKNOWN', async (t) => {
  const registry = await startRegistry(t);
  await expectError(await call(registry, `/v2/${REPO}/nothing/tags/list`), 404, 'NAME_UNKNOWN');
  // Only a nested repository was pushed: its parents are not repositories.
  await pushTags(registry, `${REPO}/a/b`, ['v1']);
  await expectError(await call(registry, `/v2/${REPO}/a/tags/list`), 404, 'NAME_UNKNOWN');
  await expectError(await call(registry, `/v2/${REPO}/tags/list`), 404, 'NAME_UNKNOWN');
  assert.deepEqual((await json<{ tags: string[] }>(await call(registry, `/v2/${REPO}/a/b/tags/list`))).tags, ['v1']);
  // A repository whose tags were all deleted still exists, with no tags.
  const deleted = await call(registry, `/v2/${REPO}/a/b/manifests/v1`, { method: 'DELETE' });
  assert.equal(deleted.status, 202);
  assert.deepEqual(await json<{ name: string; tags: string[] }>(await call(registry, `/v2/${REPO}/a/b/tags/list`)), { name: `${REPO}/a/b`, tags: [] });
});

test('_catalog lists nested repositories, sorted, and paginates', async (t) => {
  const registry = await startRegistry(t);
  const empty = await json<{ repositories: string[] }>(await call(registry, '/v2/_catalog'));
  assert.deepEqual(empty.repositories, []);

  const names = [`${REPO}/a/b`, REPO, `${REPO}/a`, `${REPO}/z`, `${REPO}/a/b/c`];
  for (const name of names) await pushTags(registry, name, ['v1']);
  // A repository with only a blob holds no manifest: it is not listed.
  await pushBlob(registry, `${REPO}/blobs-only`, content('just a blob'));
  const expected = [REPO, `${REPO}/a`, `${REPO}/a/b`, `${REPO}/a/b/c`, `${REPO}/z`];

  const all = await call(registry, '/v2/_catalog');
  assert.equal(all.headers.get('link'), null);
  assert.deepEqual((await json<{ repositories: string[] }>(all)).repositories, expected);

  const seen: string[] = [];
  let next: string | null = '/v2/_catalog?n=2';
  for (let page = 0; next !== null && page < 10; page++) {
    const response: Response = await call(registry, next);
    const link = response.headers.get('link');
    seen.push(...(await json<{ repositories: string[] }>(response)).repositories);
    next = link === null ? null : (/^<([^>]+)>; rel="next"$/.exec(link)?.[1] ?? assert.fail(`bad Link: ${link}`));
  }
  assert.deepEqual(seen, expected);

  const afterA = await json<{ repositories: string[] }>(await call(registry, `/v2/_catalog?last=${REPO}/a`));
  assert.deepEqual(afterA.repositories, [`${REPO}/a/b`, `${REPO}/a/b/c`, `${REPO}/z`]);
});

interface Index {
  schemaVersion: number;
  mediaType: string;
  manifests: { mediaType: string; digest: string; size: number; artifactType?: string; annotations?: Record<string, string> }[];
}

test('the referrers API lists artifacts by subject and filters by artifactType', async (t) => {
  const registry = await startRegistry(t);
  const subject = ociImage({ seed: 60 });
  await pushImage(registry, REPO, 'subject', subject);
  const subjectDescriptor = descriptor(subject.manifest, OCI_MANIFEST);
  const signature = ociArtifact(subjectDescriptor, 'application/vnd.example.signature', 1);
  const sbom = ociArtifact(subjectDescriptor, 'application/vnd.example.sbom+json', 2);
  for (const artifact of [signature, sbom]) {
    const put = await pushImage(registry, REPO, artifact.manifest.digest, artifact);
    assert.equal(put.headers.get('oci-subject'), subject.manifest.digest, 'OCI-Subject on the PUT response');
  }
  // A manifest without a subject carries no OCI-Subject.
  const plain = await pushImage(registry, REPO, 'plain', ociImage({ seed: 61 }));
  assert.equal(plain.headers.get('oci-subject'), null);

  const all = await call(registry, `/v2/${REPO}/referrers/${subject.manifest.digest}`);
  assert.equal(all.headers.get('content-type'), OCI_INDEX);
  assert.equal(all.headers.get('oci-filters-applied'), null);
  const index = await json<Index>(all);
  assert.equal(index.schemaVersion, 2);
  assert.equal(index.mediaType, OCI_INDEX);
  const byDigest = new Map(index.manifests.map((entry) => [entry.digest, entry]));
  assert.equal(index.manifests.length, 2);
  for (const [artifact, type] of [
    [signature, 'application/vnd.example.signature'],
    [sbom, 'application/vnd.example.sbom+json'],
  ] as const) {
    const entry = byDigest.get(artifact.manifest.digest);
    assert.ok(entry, `${type} is listed`);
    assert.equal(entry.mediaType, OCI_MANIFEST);
    assert.equal(entry.size, artifact.manifest.size);
    assert.equal(entry.artifactType, type);
    assert.deepEqual(entry.annotations, JSON.parse(artifact.manifest.bytes.toString()).annotations);
  }

  const filtered = await call(registry, `/v2/${REPO}/referrers/${subject.manifest.digest}?artifactType=${encodeURIComponent('application/vnd.example.sbom+json')}`);
  assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
  assert.equal(filtered.headers.get('content-type'), OCI_INDEX);
  const filteredIndex = await json<Index>(filtered);
  assert.deepEqual(
    filteredIndex.manifests.map((entry) => entry.digest),
    [sbom.manifest.digest],
  );

  const noMatch = await call(registry, `/v2/${REPO}/referrers/${subject.manifest.digest}?artifactType=application/vnd.example.none`);
  assert.equal(noMatch.headers.get('oci-filters-applied'), 'artifactType');
  assert.deepEqual((await json<Index>(noMatch)).manifests, []);

  // Deleting an artifact removes it from the list.
  const deleted = await call(registry, `/v2/${REPO}/manifests/${signature.manifest.digest}`, { method: 'DELETE' });
  assert.equal(deleted.status, 202);
  const after = await json<Index>(await call(registry, `/v2/${REPO}/referrers/${subject.manifest.digest}`));
  assert.deepEqual(
    after.manifests.map((entry) => entry.digest),
    [sbom.manifest.digest],
  );
});

test('an artifact without artifactType is listed with its config media type', async (t) => {
  const registry = await startRegistry(t);
  const subject = ociImage({ seed: 62 });
  await pushImage(registry, REPO, 'subject', subject);
  const config = content('{"kind":"note"}');
  await pushBlob(registry, REPO, config);
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: descriptor(config, 'application/vnd.example.note.config+json'),
    layers: [],
    subject: descriptor(subject.manifest, OCI_MANIFEST),
  };
  const text = JSON.stringify(manifest);
  const put = await call(registry, `/v2/${REPO}/manifests/${sha256(text)}`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: text });
  assert.equal(put.status, 201);
  assert.equal(put.headers.get('oci-subject'), subject.manifest.digest);
  const index = await json<Index>(await call(registry, `/v2/${REPO}/referrers/${subject.manifest.digest}`));
  assert.equal(index.manifests.length, 1);
  assert.equal(index.manifests[0]?.artifactType, 'application/vnd.example.note.config+json');
});

test('referrers of an unknown subject are an empty OCI index, and referrers stay in their repository', async (t) => {
  const registry = await startRegistry(t);
  const unknown = await call(registry, `/v2/${REPO}/referrers/${sha256('no such subject')}`);
  assert.equal(unknown.status, 200);
  assert.equal(unknown.headers.get('content-type'), OCI_INDEX);
  assert.deepEqual(await unknown.json(), { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] });

  // Even a subject pushed elsewhere: referrers are per repository.
  const subject = ociImage({ seed: 63 });
  await pushImage(registry, `${REPO}/one`, 'subject', subject);
  const artifact = ociArtifact(descriptor(subject.manifest, OCI_MANIFEST), 'application/vnd.example.x', 3);
  await pushImage(registry, `${REPO}/one`, artifact.manifest.digest, artifact);
  const other = await json<Index>(await call(registry, `/v2/${REPO}/two/referrers/${subject.manifest.digest}`));
  assert.deepEqual(other.manifests, []);
  await expectError(await call(registry, `/v2/${REPO}/referrers/not-a-digest`), 400, 'DIGEST_INVALID');
});

test('DELETE of a manifest by digest removes it and every tag pointing at it', async (t) => {
  const registry = await startRegistry(t);
  const image = ociImage({ seed: 70 });
  const keep = ociImage({ seed: 71 });
  await pushImage(registry, REPO, 'one', image);
  await pushManifest(registry, REPO, 'two', image.manifest);
  await pushImage(registry, REPO, 'keep', keep);

  const response = await call(registry, `/v2/${REPO}/manifests/${image.manifest.digest}`, { method: 'DELETE' });
  assert.equal(response.status, 202);
  await expectError(await call(registry, `/v2/${REPO}/manifests/${image.manifest.digest}`), 404, 'MANIFEST_UNKNOWN');
  await expectError(await call(registry, `/v2/${REPO}/manifests/one`), 404, 'MANIFEST_UNKNOWN');
  await expectError(await call(registry, `/v2/${REPO}/manifests/two`), 404, 'MANIFEST_UNKNOWN');
  const tags = await json<{ tags: string[] }>(await call(registry, `/v2/${REPO}/tags/list`));
  assert.deepEqual(tags.tags, ['keep']);
  assert.equal((await getBytes(registry, `/v2/${REPO}/manifests/keep`)).response.status, 200);
  // The blobs it named are still there.
  assert.equal((await getBytes(registry, `/v2/${REPO}/blobs/${image.config.digest}`)).response.status, 200);
  // Deleting again: unknown.
  await expectError(await call(registry, `/v2/${REPO}/manifests/${image.manifest.digest}`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
});

test('DELETE of a manifest in one repository leaves it in another', async (t) => {
  const registry = await startRegistry(t);
  const image = ociImage({ seed: 72 });
  await pushImage(registry, `${REPO}/one`, 'v1', image);
  await pushImage(registry, `${REPO}/two`, 'v1', image);
  const response = await call(registry, `/v2/${REPO}/one/manifests/${image.manifest.digest}`, { method: 'DELETE' });
  assert.equal(response.status, 202);
  await expectError(await call(registry, `/v2/${REPO}/one/manifests/v1`), 404, 'MANIFEST_UNKNOWN');
  const other = await getBytes(registry, `/v2/${REPO}/two/manifests/v1`);
  assert.equal(other.response.status, 200);
  assert.deepEqual(other.body, image.manifest.bytes);
});

test('DELETE of a tag removes only the tag', async (t) => {
  const registry = await startRegistry(t);
  const image = ociImage({ seed: 73 });
  await pushImage(registry, REPO, 'one', image);
  await pushManifest(registry, REPO, 'two', image.manifest);
  const response = await call(registry, `/v2/${REPO}/manifests/one`, { method: 'DELETE' });
  assert.equal(response.status, 202);
  await expectError(await call(registry, `/v2/${REPO}/manifests/one`), 404, 'MANIFEST_UNKNOWN');
  assert.equal((await getBytes(registry, `/v2/${REPO}/manifests/two`)).response.status, 200);
  assert.equal((await getBytes(registry, `/v2/${REPO}/manifests/${image.manifest.digest}`)).response.status, 200);
  assert.deepEqual((await json<{ tags: string[] }>(await call(registry, `/v2/${REPO}/tags/list`))).tags, ['two']);
  await expectError(await call(registry, `/v2/${REPO}/manifests/one`, { method: 'DELETE' }), 404, 'MANIFEST_UNKNOWN');
});

test('DELETE of a blob removes it from that repository only', async (t) => {
  const registry = await startRegistry(t);
  const blob = content('shared between two repositories');
  await pushBlob(registry, `${REPO}/one`, blob);
  await pushBlob(registry, `${REPO}/two`, blob);
  const response = await call(registry, `/v2/${REPO}/one/blobs/${blob.digest}`, { method: 'DELETE' });
  assert.equal(response.status, 202);
  await expectError(await call(registry, `/v2/${REPO}/one/blobs/${blob.digest}`), 404, 'BLOB_UNKNOWN');
  await expectError(await call(registry, `/v2/${REPO}/one/blobs/${blob.digest}`, { method: 'DELETE' }), 404, 'BLOB_UNKNOWN');
  const other = await getBytes(registry, `/v2/${REPO}/two/blobs/${blob.digest}`);
  assert.equal(other.response.status, 200);
  assert.deepEqual(other.body, blob.bytes);
  // Pushing it again to the first repository brings it back.
  await pushBlob(registry, `${REPO}/one`, blob);
  assert.equal((await getBytes(registry, `/v2/${REPO}/one/blobs/${blob.digest}`)).response.status, 200);
});
