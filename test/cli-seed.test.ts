import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countBlobWriters, makeTempDir, startRegistry } from './helpers/registry.js';
import { runCli } from './helpers/cli.js';

const GOLDEN_LAYERS_1_SIZE_1024 = 'sha256:74c40758cffe6cd21d3729c90a2edba699d0134ec81e42bc7c6c97ec8861cd21';

async function servedDigest(url: string, tag: string): Promise<string | null> {
  const response = await fetch(`${url}/v2/broken/random/manifests/${tag}`, { method: 'HEAD', signal: AbortSignal.timeout(30_000) });
  assert.equal(response.status, 200);
  return response.headers.get('docker-content-digest');
}

test('seed prints reference and digest, identical to what serve answers; a second seed does no work', async (t) => {
  const store = await makeTempDir(t);
  const seeded = await runCli(['seed', 'layers-1_size-1024', 'layers-2_size-100k_seed-9', '--store', store]);
  assert.equal(seeded.code, 0, seeded.stderr);
  const lines = seeded.stdout.trim().split('\n');
  assert.equal(lines[0], `broken/random:layers-1_size-1024 ${GOLDEN_LAYERS_1_SIZE_1024}`);
  const seededDigest = lines[1]?.split(' ')[1];
  assert.equal(seeded.stderr, '', 'no spinner off a terminal');

  const alone = await startRegistry(t);
  assert.equal(await servedDigest(alone.url, 'layers-2_size-100k_seed-9'), seededDigest);

  const registry = await startRegistry(t, { storeDir: store });
  const generated = countBlobWriters(registry.deps.store);
  assert.equal(await servedDigest(registry.url, 'layers-2_size-100k_seed-9'), seededDigest);
  assert.equal(await servedDigest(registry.url, 'layers-1_size-1024'), GOLDEN_LAYERS_1_SIZE_1024);
  assert.equal(generated(), 0, 'serve found the seeded images in the store');

  const again = await runCli(['seed', 'layers-1_size-1024', '--json'], { env: { BLOB_DIR: store } });
  assert.equal(again.code, 0);
  assert.deepEqual(JSON.parse(again.stdout), [
    { reference: 'broken/random:layers-1_size-1024', digest: GOLDEN_LAYERS_1_SIZE_1024, generated: false },
  ]);
});

test('seed while serve runs on the same store: serve answers the seeded image at once', async (t) => {
  const registry = await startRegistry(t);
  const seeded = await runCli(['seed', 'layers-3_size-10k_seed-4', '--store', registry.storeDir]);
  assert.equal(seeded.code, 0, seeded.stderr);
  const tags = await fetch(`${registry.url}/v2/broken/random/tags/list`, { signal: AbortSignal.timeout(5000) });
  assert.deepEqual(((await tags.json()) as { tags: string[] }).tags, ['layers-3_size-10k_seed-4']);
  assert.equal(await servedDigest(registry.url, 'layers-3_size-10k_seed-4'), seeded.stdout.trim().split(' ')[1]);
});

test('bad specs exit 2 with one line naming the parameter, and write nothing', async (t) => {
  const store = await makeTempDir(t);
  for (const [spec, why] of [
    ['layers-3', /missing parameter "size"/],
    ['layers-x_size-1', /parameter "layers"/],
    ['layers-1_size-9g', /parameter "size"/],
    ['layers-1_size-1_color-red', /unknown parameter "color"/],
  ] as const) {
    const result = await runCli(['seed', 'layers-1_size-1', spec, '--store', store]);
    assert.equal(result.code, 2, spec);
    assert.equal(result.stderr.trim().split('\n').length, 1);
    assert.match(result.stderr, why);
    assert.equal(result.stdout, '', 'all specs are checked before any is generated');
  }
  const missing = await runCli(['seed', '--store', store]);
  assert.equal(missing.code, 2);
});
