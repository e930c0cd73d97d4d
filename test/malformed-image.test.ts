// The malformed corpus, without a server: each kind has exactly its one defect, where the kinds table
// says, and nothing else wrong; the bytes are the same on every machine; the big kinds stay bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { createMalformedCorpus, MALFORMED_KINDS, type MalformedCorpus } from '../src/images/malformed/index.js';
import { gzipStored, zstdRaw } from '../src/images/malformed/compress.js';
import { HUGE_HEADER_SIZE, HUGE_MANIFEST_LIMIT } from '../src/images/malformed/kinds.js';
import { checkImage, sha256, ZSTD_KINDS, type ImageFetcher } from './helpers/malformed-check.js';
import { requireTools } from './helpers/run.js';

function corpusFetcher(corpus: MalformedCorpus): ImageFetcher {
  return {
    manifest: async (digest) => corpus.manifest(digest),
    blob: async (digest) => corpus.blob(digest)?.bytes,
  };
}

for (const { kind, where } of MALFORMED_KINDS) {
  test(`malformed ${kind}: the one defect is ${kind} at ${where}, and nothing else is wrong`, async (t) => {
    if (ZSTD_KINDS.has(kind) && !requireTools(t, 'zstd')) return;
    const corpus = createMalformedCorpus();
    const image = corpus.image(kind);
    assert.ok(image);
    const findings = await checkImage({ ...image.root, digest: image.root.digest.text }, corpusFetcher(corpus));
    assert.deepEqual(findings, [`${kind} @ ${where}`]);
  });
}

/** The root manifest digest of every kind: the same bytes on every machine and in every release. */
const GOLDEN: Record<string, string> = {
  'tar-invalid': 'sha256:9f21900a6ee52e14e7f84696f37394f08f224d6956f920ed4d2bb4c02b5614c4',
  'gzip-invalid': 'sha256:eab83e2001f5290e021fdc1fd996024678ed974b11d961257d1ef5e22e4c1dcb',
  'gzip-truncated': 'sha256:b26e1ab411946fd866e3aa7b385ecc65227fe38a7510d1e276244475b1a98d45',
  'digest-mismatch': 'sha256:1a3152d618b7591978c7b1f4e96dd67dde21cb15c3fc786509277ae2a9593799',
  'diffid-mismatch': 'sha256:cbab2c0d503c0d307c7dc76c883a94291cb5477ed982718541c0d5a1b07318f6',
  'size-mismatch': 'sha256:ff39612a62ef23898a6a9f5f12e8b6f07c032f61682f1db679ddadb15b45e78c',
  'blob-missing': 'sha256:72b586cae59c7cb67f68aee07cbe113baad8682fdffd5f7dcb36fcde3af2ea51',
  'config-missing': 'sha256:c5b9a8989331b943df3c552c4d5a4ad9c8ce14dbc95fa7e10758bd4ebb7c33de',
  'config-invalid-json': 'sha256:942a8883be057c7120f102bfcafc311466b07a1bcd694411df78b3534260f896',
  'schema1-signed': 'sha256:fcd9b2b505b9f558a6237b5cc7e9830d7779474d386dda06102d41320f0cb485',
  'schema1-unsigned': 'sha256:ca64dddb6a03108aeecf3a6a538b5de949502c9191a9c5d1101305d33db847ad',
  'mediatype-unknown': 'sha256:3470b2fc9c6f4a8ce6a9a645a5e73e90c16ace7d67416b2f319b415374e408dc',
  'mediatype-lie': 'sha256:2979c02e5e22b3fa11b5aa73d55b12eb4edbb5feb3b8621b8b604fc8c90718c2',
  'zstd-in-docker': 'sha256:8c6edf79922103d3b36794e4a68fd25b186f1bc8cf1de241a4ec09e6ae2dd05e',
  'index-noplatform': 'sha256:fb27a67144b56356fbdf491727dd0371d290078652ab90f396c422f85e45a71a',
  'index-child-missing': 'sha256:2d48ee04192ce0ad59403ea235215a3c0d90d65195c4c0af7bae51e6df76f9b9',
  'index-nested': 'sha256:2793c414705e6aa72b7219ea39cb2cdf1a6fc4d391c2109751809ee381b6500d',
  'layers-zero': 'sha256:4b1fb5c36cba2a65a2a7738e9b7cb3b54ea1a5288e7dcf0e77c0d93ae8a1ba76',
  'manifest-huge': 'sha256:b0114d22da543c88ba516c940f15ea5b86df3cf14663530a9f2fa5f9ef00ef54',
  'foreign-layer': 'sha256:d8c836665fc67cc75dfd78a2a554b61e7fa2aa8cf51bf086d7934ff82b1f04e2',
  'tar-traversal': 'sha256:9a9fe1ea4f20eea56dd23883842682002f9666ef6668f8484c310555799dba97',
  'whiteouts': 'sha256:77a9eec8b66df8ee75db70d032aaa9872c9d4e4401d2154cceb67cfe3e347a90',
  'hardlink-missing': 'sha256:6d909a614adbb066e8197c6dc48a9f52a27fc557bcf6cf681ba9f730aae9f7d7',
  'tar-huge-header': 'sha256:0087d804c588f3f27cd1e47e00ee60d5829f7a231d8f9da0dc1e6cae33dce148',
};

test('malformed kinds keep their golden manifest digests', () => {
  const corpus = createMalformedCorpus();
  const digests = Object.fromEntries(MALFORMED_KINDS.map(({ kind }) => [kind, corpus.image(kind)!.root.digest.text]));
  assert.deepEqual(digests, GOLDEN);
});

test('malformed images are the same bytes every time they are built', () => {
  for (const { kind, build } of MALFORMED_KINDS) {
    const [a, b] = [build(kind), build(kind)];
    assert.deepEqual(
      a.manifests.map((m) => m.bytes),
      b.manifests.map((m) => m.bytes),
      kind,
    );
    assert.deepEqual(
      a.blobs.map((blob) => [blob.digest, blob.bytes]),
      b.blobs.map((blob) => [blob.digest, blob.bytes]),
      kind,
    );
  }
});

test('malformed kinds share no blob or manifest, and every foreign url is on loopback', () => {
  const seen = new Map<string, string>();
  for (const { kind, build } of MALFORMED_KINDS) {
    const image = build(kind);
    for (const digest of [...image.manifests.map((m) => m.digest.text), ...image.blobs.map((blob) => blob.digest)]) {
      assert.ok(!seen.has(digest) || seen.get(digest) === kind, `${digest} is in ${kind} and ${seen.get(digest)}`);
      seen.set(digest, kind);
    }
    for (const manifest of image.manifests) {
      for (const url of manifest.bytes.toString('latin1').match(/https?:\/\/[^"]+/g) ?? []) {
        assert.match(url, /^http:\/\/127\.0\.0\.1:9\//, `${kind} names ${url}`);
      }
    }
  }
});

test('manifest-huge is over 4 MiB, built once per corpus; tar-huge-header claims a terabyte in a small blob', () => {
  const corpus = createMalformedCorpus();
  const huge = corpus.image('manifest-huge')!.root;
  assert.ok(huge.bytes.length > HUGE_MANIFEST_LIMIT && huge.bytes.length < HUGE_MANIFEST_LIMIT + 64 * 1024, String(huge.bytes.length));
  assert.equal(corpus.image('manifest-huge')!.root.bytes, huge.bytes, 'the same buffer, not a new one per request');
  assert.equal(corpus.manifest(huge.digest.text)?.bytes, huge.bytes);
  const image = corpus.image('tar-huge-header')!;
  const layer = image.blobs[1]!;
  assert.ok(layer.bytes.length < 8 * 1024, String(layer.bytes.length));
  const tar = gunzipSync(layer.bytes);
  const header = tar.subarray(tar.length - 512 - 54, tar.length - 54);
  assert.equal(header[124], 0x80, 'GNU base-256 size');
  assert.equal(header.readBigUInt64BE(128), BigInt(HUGE_HEADER_SIZE));
});

test('the hand-framed gzip and zstd streams decode with standard decoders, across block boundaries', (t) => {
  const data = Buffer.alloc(300 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
  for (const sample of [Buffer.alloc(0), Buffer.from('x'), data]) {
    assert.ok(gunzipSync(gzipStored(sample)).equals(sample));
  }
  if (!requireTools(t, 'zstd')) return;
  for (const sample of [Buffer.from('x'), data]) {
    const result = spawnSync('zstd', ['-d', '-c', '-q'], { input: zstdRaw(sample), timeout: 10_000, maxBuffer: 1 << 24 });
    assert.equal(result.status, 0, result.stderr.toString());
    assert.equal(sha256(result.stdout), sha256(sample));
  }
});

test('the kinds table: unique names, a defect and a where for each', () => {
  const names = MALFORMED_KINDS.map((k) => k.kind);
  assert.equal(new Set(names).size, names.length);
  assert.equal(names.length, 24);
  for (const { kind, defect, where } of MALFORMED_KINDS) {
    assert.match(kind, /^[a-z0-9]+(-[a-z0-9]+)*$/);
    assert.ok(defect.length > 10, kind);
    assert.match(where, /^(manifest|config|layers\[\d+\]|index manifests\[\d+\])( [a-zA-Z_.\[\]0-9 ]+)?$/, kind);
  }
});
