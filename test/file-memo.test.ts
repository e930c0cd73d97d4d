// The memo behind tag and manifest reads: it never answers with a file's old contents once the file
// was replaced, removed or written in place, and it stays within its budget.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { makeTempDir, startRegistry } from './helpers/registry.js';
import { FileMemo } from '../src/store/file-memo.js';
import { FsStore } from '../src/store/store.js';
import { REPO, call, manifestFrom, OCI_MANIFEST, pushManifest } from './helpers/oci-http.js';

function countingMemo(options = { maxEntries: 10, maxBytes: 1 << 20 }) {
  const parsed: string[] = [];
  const memo = new FileMemo((bytes) => {
    parsed.push(bytes.toString());
    return bytes.toString();
  }, options);
  return { memo, parsed };
}

test('a remembered file is read once, and again after a rename, an in-place write or a removal', async (t) => {
  const dir = await makeTempDir(t);
  const file = path.join(dir, 'tag');
  const { memo, parsed } = countingMemo();
  assert.equal(await memo.read(file), undefined, 'missing file');
  assert.equal(await memo.read(path.join(dir, 'no', 'such', 'dir')), undefined, 'missing directory');

  await fs.writeFile(file, 'one');
  assert.equal(await memo.read(file), 'one');
  assert.equal(await memo.read(file), 'one');
  assert.deepEqual(parsed, ['one'], 'the second read came from memory');

  // Replaced the way the store writes: a new file renamed over the old one.
  await fs.writeFile(`${file}.new`, 'two');
  await fs.rename(`${file}.new`, file);
  assert.equal(await memo.read(file), 'two');

  // Written in place with another size.
  await fs.writeFile(file, 'three!');
  assert.equal(await memo.read(file), 'three!');

  await fs.rm(file);
  assert.equal(await memo.read(file), undefined, 'removed');
  assert.deepEqual(parsed, ['one', 'two', 'three!']);
});

test('the memo keeps at most maxEntries files and maxBytes bytes, dropping the oldest', async (t) => {
  const dir = await makeTempDir(t);
  const { memo, parsed } = countingMemo({ maxEntries: 2, maxBytes: 10 });
  const files = ['a', 'b', 'c'].map((name) => path.join(dir, name));
  for (const file of files) await fs.writeFile(file, path.basename(file).repeat(4));
  for (const file of files) await memo.read(file);
  assert.equal(parsed.length, 3);
  await memo.read(files[2] ?? '');
  assert.equal(parsed.length, 3, 'the newest is still remembered');
  await memo.read(files[0] ?? '');
  assert.equal(parsed.length, 4, 'the oldest was dropped (two entries, and 12 bytes would exceed 10)');

  const big = path.join(dir, 'big');
  await fs.writeFile(big, 'x'.repeat(11));
  await memo.read(big);
  await memo.read(big);
  assert.equal(parsed.filter((text) => text.length === 11).length, 2, 'a file larger than maxBytes is never remembered');
});

test('a served tag moved by another writer on the same store is answered with the new manifest at once', async (t) => {
  const registry = await startRegistry(t);
  const first = manifestFrom('{"schemaVersion":2,"note":"first"}', OCI_MANIFEST);
  const second = manifestFrom('{"schemaVersion":2,"note":"second"}', OCI_MANIFEST);
  await pushManifest(registry, REPO, 'moving', first);
  const url = `/v2/${REPO}/manifests/moving`;
  assert.equal((await call(registry, url)).headers.get('docker-content-digest'), first.digest);

  // Another process (prepare, seed, a second server) writes the same store directory.
  const other = await FsStore.open(registry.storeDir);
  await other.putManifest(REPO, second.bytes, OCI_MANIFEST, { tag: 'moving' });
  assert.equal((await call(registry, url)).headers.get('docker-content-digest'), second.digest);

  await other.deleteTag(REPO, 'moving');
  assert.equal((await call(registry, url)).status, 404);
});

test('a content-addressed memo answers a remembered file without looking at the disk again', async (t) => {
  const dir = await makeTempDir(t);
  const file = path.join(dir, 'sha256-abc');
  const parsed: string[] = [];
  const memo = new FileMemo((bytes) => {
    parsed.push(bytes.toString());
    return bytes.toString();
  }, { maxEntries: 10, maxBytes: 1 << 20, contentAddressed: true });
  assert.equal(await memo.read(file), undefined, 'not there yet');
  await fs.writeFile(file, 'content');
  assert.equal(await memo.read(file), 'content');
  await fs.rm(file);
  assert.equal(await memo.read(file), 'content', 'the name still means these bytes');
  assert.deepEqual(parsed, ['content']);
});
