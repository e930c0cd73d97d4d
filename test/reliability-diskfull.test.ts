// A full disk: the store lives on a 2 MiB tmpfs. Pushes, chunks, manifests and random images that do
// not fit are answered 503 UNAVAILABLE in the OCI envelope, nothing partial is kept (no temp file, no
// blob, no tag, an upload session back to its last whole chunk), and the server goes on serving what
// fits. Needs root for mount(8); skipped with the reason otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { startRegistry, type TestRegistry } from './helpers/registry.js';
import { run } from './helpers/clients.js';
import { REPO, call, expectError, getBytes, manifestFrom, ociImage, pushImage, randomContent, sha256, OCI_MANIFEST } from './helpers/oci-http.js';
import { assertStoreIntact, tmpEntries } from './helpers/integrity.js';

const OUT_OF_SPACE = 'the store is out of space; nothing was kept';

/** A 2 MiB tmpfs, unmounted when the test ends; undefined (and the test skipped) when mount fails. */
async function tinyDisk(t: TestContext): Promise<string | undefined> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'broken-reg-diskfull-'));
  const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { timeoutMs: 10_000 });
  if (mounted.code !== 0) {
    await fs.rmdir(dir);
    t.skip(`cannot mount a tmpfs (needs root): ${(mounted.stderr || mounted.stdout).trim().split('\n')[0]}`);
    return undefined;
  }
  // node:test runs after-hooks first-added first, so this may run while the registry still holds the
  // store: a lazy unmount then detaches it at once. Never throws, so later hooks (stopping the
  // registry) still run.
  t.after(async () => {
    const unmounted = await run('umount', [dir], { timeoutMs: 10_000 });
    if (unmounted.code !== 0) await run('umount', ['-l', dir], { timeoutMs: 10_000 });
    await fs.rmdir(dir).catch(() => undefined);
  });
  return dir;
}

/** Every file of the store that is not a whole blob, tag or manifest: temp files and upload data. */
async function leftovers(registry: TestRegistry): Promise<string[]> {
  return (await tmpEntries(registry.storeDir)).map((name) => `tmp/${name}`);
}

/** Fills the disk with one file until it is full; returns its path. */
async function fill(dir: string): Promise<string> {
  const file = path.join(dir, 'filler');
  const handle = await fs.open(file, 'w');
  try {
    for (;;) await handle.write(Buffer.alloc(64 * 1024, 1));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    await handle.close();
  }
  return file;
}

async function expectOutOfSpace(response: Response): Promise<void> {
  const error = await expectError(response, 503, 'UNAVAILABLE');
  assert.equal(error.message, OUT_OF_SPACE);
}

test('on a full disk, blob pushes and chunks are refused with 503 UNAVAILABLE, nothing partial stays, and what fits still works', async (t) => {
  const disk = await tinyDisk(t);
  if (!disk) return;
  const registry = await startRegistry(t, { storeDir: path.join(disk, 'store') });

  // A monolithic push bigger than the disk (the body is far larger than the socket buffers).
  const big = randomContent(6 * 1024 * 1024, 901);
  await expectOutOfSpace(await call(registry, `/v2/${REPO}/blobs/uploads/?digest=${big.digest}`, { method: 'POST', body: big.bytes }));
  assert.deepEqual(await leftovers(registry), [], 'no temp file');
  assert.equal((await call(registry, `/v2/${REPO}/blobs/${big.digest}`, { method: 'HEAD' })).status, 404, 'no blob');

  // A chunked upload: the chunk that does not fit is refused and cut off again; the session is whole.
  const start = await call(registry, `/v2/${REPO}/blobs/uploads/`, { method: 'POST' });
  const location = start.headers.get('location') ?? '';
  const first = big.bytes.subarray(0, 512 * 1024);
  const ok = await call(registry, location, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body: first });
  assert.equal(ok.status, 202);
  await expectOutOfSpace(
    await call(registry, location, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream' }, body: big.bytes.subarray(first.length, 4 * 1024 * 1024) }),
  );
  const status = await call(registry, location);
  assert.equal(status.status, 204);
  assert.equal(status.headers.get('range'), `0-${first.length - 1}`, 'the session holds exactly the chunk that fitted');
  assert.equal((await call(registry, location, { method: 'DELETE' })).status, 204);
  assert.deepEqual(await fs.readdir(path.join(registry.storeDir, 'uploads')), []);

  // What fits still works, pushed and pulled.
  const small = ociImage({ seed: 902, layerCount: 2, layerSize: 64 * 1024 });
  await pushImage(registry, REPO, 'fits', small);
  for (const blob of [small.config, ...small.layers]) assert.equal(sha256((await getBytes(registry, `/v2/${REPO}/blobs/${blob.digest}`)).body), blob.digest);
  await assertStoreIntact(registry.storeDir, 'after refused pushes');
  assert.deepEqual(await leftovers(registry), []);
});

test('on a full disk, a manifest put is refused with 503 and leaves no tag, revision or temp; it works once space is back', async (t) => {
  const disk = await tinyDisk(t);
  if (!disk) return;
  const registry = await startRegistry(t, { storeDir: path.join(disk, 'store') });
  const image = ociImage({ seed: 903, layerCount: 1, layerSize: 16 * 1024 });
  for (const blob of [image.config, ...image.layers]) {
    const pushed = await call(registry, `/v2/${REPO}/blobs/uploads/?digest=${blob.digest}`, { method: 'POST', body: blob.bytes });
    assert.equal(pushed.status, 201);
  }
  // A manifest of a few KiB, so that it cannot squeeze into the last partial page of the disk.
  const manifest = manifestFrom({ ...JSON.parse(image.manifest.bytes.toString('utf8')), annotations: { pad: 'p'.repeat(64 * 1024) } }, OCI_MANIFEST);
  const filler = await fill(disk);
  const put = () => call(registry, `/v2/${REPO}/manifests/full`, { method: 'PUT', headers: { 'Content-Type': OCI_MANIFEST }, body: manifest.bytes });
  await expectOutOfSpace(await put());
  assert.deepEqual(await leftovers(registry), []);
  await expectError(await call(registry, `/v2/${REPO}/manifests/full`), 404, 'MANIFEST_UNKNOWN');
  await expectError(await call(registry, `/v2/${REPO}/manifests/${manifest.digest}`), 404, 'MANIFEST_UNKNOWN');
  await assertStoreIntact(registry.storeDir, 'after the refused manifest');

  await fs.rm(filler);
  const stored = await put();
  assert.equal(stored.status, 201);
  const got = await getBytes(registry, `/v2/${REPO}/manifests/full`, { headers: { Accept: OCI_MANIFEST } });
  assert.deepEqual(got.body, manifest.bytes);
});

test('a random image too big for the disk fails cleanly with 503; a smaller one then generates and pulls', async (t) => {
  const disk = await tinyDisk(t);
  if (!disk) return;
  const registry = await startRegistry(t, { storeDir: path.join(disk, 'store') });
  await expectOutOfSpace(await call(registry, '/v2/broken/random/manifests/layers-3_size-1m'));
  assert.deepEqual(await leftovers(registry), [], 'no temp file');
  const tags = await call(registry, '/v2/broken/random/tags/list');
  const listed = tags.status === 200 ? ((await tags.json()) as { tags: string[] | null }).tags ?? [] : (await tags.arrayBuffer(), []);
  assert.deepEqual(listed, [], 'no tag for the image that did not fit');
  await assertStoreIntact(registry.storeDir, 'after the failed generation');

  const manifest = await getBytes(registry, '/v2/broken/random/manifests/layers-1_size-64k');
  assert.equal(manifest.response.status, 200);
  const parsed = JSON.parse(manifest.body.toString('utf8')) as { config: { digest: string }; layers: { digest: string }[] };
  for (const { digest } of [parsed.config, ...parsed.layers]) {
    assert.equal(sha256((await getBytes(registry, `/v2/broken/random/blobs/${digest}`)).body), digest);
  }
  assert.equal((await call(registry, '/v2/')).status, 200);
});

test('on a full disk, an upload that cannot start answers 503 and leaves no session directory behind', async (t) => {
  const dir = await tinyDisk(t);
  if (!dir) return;
  const registry = await startRegistry(t, { storeDir: path.join(dir, 'store') });
  const filler = await fill(dir);
  const response = await call(registry, `/v2/${REPO}/blobs/uploads/`, { method: 'POST' });
  await expectOutOfSpace(response);
  assert.deepEqual(await fs.readdir(path.join(registry.storeDir, 'uploads')), [], 'no uploads/<id>/ with an empty data file');
  await fs.rm(filler);
  assert.equal((await call(registry, `/v2/${REPO}/blobs/uploads/`, { method: 'POST' })).status, 202, 'it works once space is back');
});
