// seed and inspect with broken/random's shape keys: seed makes the digests serve answers (an index
// with its children), honours --max-layers, and inspect shows the index tree with its attestations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempDir, startRegistry } from './helpers/registry.js';
import { runCli } from './helpers/cli.js';
import type { ImageTree, StoreReport } from '../src/inspect/model.js';
import { RANDOM_PARAM_EXAMPLES } from '../src/images/random/index.js';

// Pinned in test/random-keys.test.ts.
const GOLDEN_OCI_4_ZSTD = 'sha256:7cf103a43105ff17d8942871773097101df15c6d2447976bd154762c3d54adda';

test('seed makes an index and its children, as serve would: serve answers them without generating', async (t) => {
  const store = await makeTempDir(t);
  const tag = 'layers-2_size-1k_format-oci_platforms-4_comp-zstd';
  const seeded = await runCli(['seed', tag, 'layers-1_size-1k_platforms-2_attest-1', '--json', '--store', store]);
  assert.equal(seeded.code, 0, seeded.stderr);
  const results = JSON.parse(seeded.stdout) as { reference: string; digest: string }[];
  assert.deepEqual(results[0], { reference: `broken/random:${tag}`, digest: GOLDEN_OCI_4_ZSTD, generated: true });

  const registry = await startRegistry(t, { storeDir: store });
  let generated = 0;
  const ingest = registry.deps.store.ingestBlob.bind(registry.deps.store);
  registry.deps.store.ingestBlob = async (...args) => {
    generated++;
    return ingest(...args);
  };
  const head = async (reference: string) => {
    const response = await fetch(`${registry.url}/v2/broken/random/manifests/${reference}`, { signal: AbortSignal.timeout(30_000) });
    assert.equal(response.status, 200, reference);
    return { digest: response.headers.get('docker-content-digest'), body: (await response.json()) as { manifests: { digest: string }[] } };
  };
  const index = await head(tag);
  assert.equal(index.digest, GOLDEN_OCI_4_ZSTD);
  for (const child of index.body.manifests) assert.equal((await head(child.digest)).digest, child.digest);
  assert.equal((await head('layers-1_size-1k_platforms-2_attest-1')).digest, results[1]?.digest);
  assert.equal(generated, 0, 'everything came from the seeded store');
});

test('seed refuses more layers than --max-layers allows, and makes them when it allows them', { timeout: 60_000 }, async (t) => {
  const store = await makeTempDir(t);
  const refused = await runCli(['seed', 'layers-200_size-1', '--store', store]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /parameter "layers".*1 to 100/);
  const badFlag = await runCli(['seed', 'layers-1_size-1', '--max-layers', '10001', '--store', store]);
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.stderr, /--max-layers/);
  const made = await runCli(['seed', 'layers-200_size-1', '--max-layers', '200', '--store', store]);
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /^broken\/random:layers-200_size-1 sha256:[0-9a-f]{64}\n$/);
});

test('inspect shows a seeded index: platforms, attestations of each image, zstd layers, nothing untagged or orphaned', async (t) => {
  const store = await makeTempDir(t);
  const tag = 'layers-2_size-1k_platforms-3_comp-zstd_attest-1';
  assert.equal((await runCli(['seed', tag, '--store', store])).code, 0);
  const json = await runCli(['inspect', `broken/random:${tag}`, '--json', '--store', store]);
  assert.equal(json.code, 0, json.stderr);
  const tree = JSON.parse(json.stdout) as ImageTree;
  assert.equal(tree.root.role, 'index');
  assert.equal(tree.root.mediaType, 'application/vnd.oci.image.index.v1+json');
  assert.deepEqual(tree.missingBlobs, []);
  const platforms = tree.root.children.map((child) => child.platform && [child.platform.os, child.platform.architecture, child.platform.variant].filter(Boolean).join('/'));
  assert.deepEqual(platforms, ['linux/amd64', 'linux/arm64', 'linux/arm/v7', 'unknown/unknown', 'unknown/unknown', 'unknown/unknown']);
  const images = tree.root.children.slice(0, 3);
  assert.deepEqual(
    tree.root.children.slice(3).map((child) => child.attestationOf),
    images.map((image) => image.digest),
  );
  for (const image of images) {
    assert.equal(image.attestationOf, null);
    assert.deepEqual(
      image.children.map((node) => [node.role, node.mediaType]),
      [
        ['config', 'application/vnd.oci.image.config.v1+json'],
        ['layer', 'application/vnd.oci.image.layer.v1.tar+zstd'],
        ['layer', 'application/vnd.oci.image.layer.v1.tar+zstd'],
      ],
    );
  }
  for (const attestation of tree.root.children.slice(3)) assert.equal(attestation.children[1]?.mediaType, 'application/vnd.in-toto+json');

  const text = await runCli(['inspect', `broken/random:${tag}`, '--store', store]);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /manifest linux\/arm\/v7/);
  assert.match(text.stdout, new RegExp(`manifest unknown/unknown attestation of ${images[2]?.digest.slice(0, 19)}`));
  assert.match(text.stdout, /All blobs present\./);

  const report = JSON.parse((await runCli(['inspect', '--json', '--store', store])).stdout) as StoreReport;
  const repository = report.repositories.find((repo) => repo.name === 'broken/random');
  assert.deepEqual(repository?.untagged, [], 'the children are reached through the index');
  assert.equal(repository?.manifestCount, 1 + 3 + 3);
  assert.deepEqual(report.orphanBlobs, []);
});

test('serve --help lists every broken/random key with its example', async () => {
  const help = await runCli(['serve', '--help'], { timeoutMs: 15_000 });
  assert.equal(help.code, 0);
  for (const example of Object.values(RANDOM_PARAM_EXAMPLES)) assert.match(help.stdout, new RegExp(`^ +${example} +\\S`, 'm'), example);
});
