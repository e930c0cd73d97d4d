// `broken-reg prepare`: the real binary imports tarballs built here (by hand and with skopeo) into a
// temp store, a server on that store serves them, and everything pulls back with the same digests.
// Bad input fails with exit 1 and one line, and leaves the store exactly as it was.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { makeTempDir, startRegistry, type TestRegistry } from './helpers/registry.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { getBytes, listFiles } from './helpers/oci-http.js';
import { createPodman, createSkopeo, ok, requireTool, requireTools, Scope, startDockerd } from './helpers/clients.js';
import { makeTestImages, readOciLayout, sha256, writeOciLayout, MEDIA, type TestImage } from './helpers/images.js';
import { blobEntry, dockerSaveTar, layerTar, nestedIndex, ociLayoutTar, savedImage, savedFrom, tarOf, type TarEntry } from './helpers/tarballs.js';

const CLI_TIMEOUT_MS = 60_000;
const SKOPEO_TIMEOUT_MS = 60_000;
const ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerManifestList, MEDIA.dockerManifest].join(', ');
const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';

function prepare(storeDir: string, args: string[], input?: Buffer, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const store = env.BLOB_DIR ? [] : ['--store', storeDir];
  return runCli(['prepare', ...args, ...store], { input, env, timeoutMs: CLI_TIMEOUT_MS });
}

async function writeTar(dir: string, name: string, bytes: Buffer): Promise<string> {
  const file = path.join(dir, name);
  await fs.writeFile(file, bytes);
  return file;
}

function succeeded(result: CliResult): CliResult {
  assert.equal(result.code, 0, `prepare failed: ${result.stderr}`);
  return result;
}

/** Lines of `<ref> <digest>` printed by prepare, as a map. */
function printed(result: CliResult): Map<string, string> {
  return new Map(result.stdout.trim().split('\n').map((line) => line.split(' ') as [string, string]));
}

interface Pulled {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  /** Child manifests, configs and layers, in the order the manifests list them. */
  blobs: string[];
}

/** Pulls a manifest and everything below it, checking that every body hashes to its digest. */
async function pull(registry: TestRegistry, repo: string, reference: string): Promise<Pulled> {
  const { response, body } = await getBytes(registry, `/v2/${repo}/manifests/${reference}`, { headers: { Accept: ACCEPT } });
  assert.equal(response.status, 200, `${repo}:${reference}: ${body.toString()}`);
  const digest = sha256(body);
  assert.equal(response.headers.get('docker-content-digest'), digest);
  const parsed = JSON.parse(body.toString('utf8')) as { manifests?: { digest: string }[]; config?: { digest: string }; layers?: { digest: string }[] };
  const blobs: string[] = [];
  for (const child of parsed.manifests ?? []) blobs.push(child.digest, ...(await pull(registry, repo, child.digest)).blobs);
  for (const ref of [...(parsed.config ? [parsed.config] : []), ...(parsed.layers ?? [])]) {
    const blob = await getBytes(registry, `/v2/${repo}/blobs/${ref.digest}`);
    assert.equal(blob.response.status, 200, `blob ${ref.digest}`);
    assert.equal(sha256(blob.body), ref.digest, `blob ${ref.digest} pulls with its own digest`);
    blobs.push(ref.digest);
  }
  return { digest, mediaType: response.headers.get('content-type') ?? '', bytes: body, blobs };
}

function blobDigests(image: TestImage): string[] {
  if (image.children.length === 0) return image.blobs.map((blob) => blob.digest);
  return image.children.flatMap((child) => [child.manifest.digest, ...blobDigests(child)]);
}

test('an OCI layout with one image imports byte-identical while serve runs on the store', async (t) => {
  const dir = await makeTempDir(t);
  const registry = await startRegistry(t, { storeDir: path.join(dir, 'store') });
  const { oci } = await makeTestImages();
  const file = await writeTar(dir, 'oci.tar', (await ociLayoutTar([oci])).tar);
  const result = succeeded(await prepare(registry.storeDir, [file, '--tag', 'one']));
  assert.equal(result.stdout, `broken/prepared:one ${oci.manifest.digest}\n`);
  const pulled = await pull(registry, 'broken/prepared', 'one');
  assert.deepEqual(pulled.bytes, oci.manifest.bytes);
  assert.equal(pulled.mediaType, MEDIA.ociManifest);
  assert.deepEqual(pulled.blobs, blobDigests(oci));
});

test('a two-platform index.json is tagged as one index with the digest of index.json', async (t) => {
  const dir = await makeTempDir(t);
  const { index } = await makeTestImages();
  const layout = await ociLayoutTar(index.children, { metadataFirst: true });
  const file = await writeTar(dir, 'multi.tar', layout.tar);
  const registry = await startRegistry(t, { storeDir: path.join(dir, 'store') });
  const result = succeeded(await prepare(registry.storeDir, [file, '--tag', 'multi']));
  assert.equal(result.stdout, `broken/prepared:multi ${sha256(layout.indexJson)}\n`);
  const pulled = await pull(registry, 'broken/prepared', 'multi');
  assert.deepEqual(pulled.bytes, layout.indexJson);
  assert.equal(pulled.mediaType, MEDIA.ociIndex);
  assert.deepEqual(pulled.blobs, blobDigests(index));
});

test('a nested index and a second image take their tags from ref.name when --tag is absent', async (t) => {
  const dir = await makeTempDir(t);
  const { oci, index } = await makeTestImages();
  const nested = nestedIndex(index, 'v1');
  const file = await writeTar(dir, 'nested.tar', (await ociLayoutTar([nested, oci], { refNames: true })).tar);
  const registry = await startRegistry(t, { storeDir: path.join(dir, 'store') });
  const lines = printed(succeeded(await prepare(registry.storeDir, [file])));
  assert.deepEqual([...lines], [
    ['broken/prepared:v1', nested.manifest.digest],
    ['broken/prepared:oci', oci.manifest.digest],
  ]);
  const pulled = await pull(registry, 'broken/prepared', 'v1');
  assert.deepEqual(pulled.bytes, nested.manifest.bytes);
  assert.deepEqual(pulled.blobs, [index.manifest.digest, ...blobDigests(index)]);
  assert.deepEqual((await pull(registry, 'broken/prepared', 'oci')).bytes, oci.manifest.bytes);
});

async function twoSavedImages() {
  const shared = await layerTar({ 'bin/sh': '#!shared\n' });
  const busybox = savedImage(['busybox:1.36', 'docker.io/library/busybox:latest'], [shared, await layerTar({ 'etc/a': 'a\n' })]);
  const app = savedImage(['example.com:5000/team/app:v2'], [shared, await layerTar({ 'etc/b': 'b\n' })]);
  return { shared, busybox, app };
}

test('a docker save layer that is already gzipped keeps its bytes and gets the gzip media type', async (t) => {
  const dir = await makeTempDir(t);
  const plain = await layerTar({ 'etc/plain': 'p\n' });
  const gzipped = gzipSync(await layerTar({ 'etc/zipped': 'z\n' }));
  const file = await writeTar(dir, 'save.tar', await dockerSaveTar([savedImage(['app:z'], [plain, gzipped])]));
  const registry = await startRegistry(t, { storeDir: path.join(dir, 'store') });
  succeeded(await prepare(registry.storeDir, [file]));
  const pulled = await pull(registry, 'broken/prepared', 'z');
  const manifest = JSON.parse(pulled.bytes.toString()) as { layers: { mediaType: string; digest: string }[] };
  assert.deepEqual(manifest.layers.map((layer) => layer.mediaType), [DOCKER_LAYER_TAR, MEDIA.dockerLayerGzip]);
  assert.deepEqual(manifest.layers.map((layer) => layer.digest), [sha256(plain), sha256(gzipped)]);
});

test('a docker save tar becomes Docker schema 2 manifests, one tag per RepoTag', async (t) => {
  const dir = await makeTempDir(t);
  const { busybox, app } = await twoSavedImages();
  const file = await writeTar(dir, 'save.tar', await dockerSaveTar([busybox, app]));
  const registry = await startRegistry(t, { storeDir: path.join(dir, 'store') });
  const lines = printed(succeeded(await prepare(registry.storeDir, [file])));
  assert.deepEqual([...lines.keys()], ['broken/prepared:1.36', 'broken/prepared:latest', 'broken/prepared:v2']);
  for (const [tag, image] of [['1.36', busybox], ['latest', busybox], ['v2', app]] as const) {
    const pulled = await pull(registry, 'broken/prepared', tag);
    assert.equal(pulled.digest, lines.get(`broken/prepared:${tag}`));
    assert.equal(pulled.mediaType, MEDIA.dockerManifest);
    const manifest = JSON.parse(pulled.bytes.toString()) as { config: { mediaType: string }; layers: { mediaType: string }[] };
    assert.equal(manifest.config.mediaType, MEDIA.dockerConfig);
    assert.deepEqual(manifest.layers.map((layer) => layer.mediaType), [DOCKER_LAYER_TAR, DOCKER_LAYER_TAR]);
    assert.deepEqual(pulled.blobs, [sha256(image.config), ...image.layers.map((layer) => sha256(layer))]);
  }
  if (!requireTool(t, 'skopeo')) return;
  const skopeo = await createSkopeo(t, [registry.host]);
  const raw = ok(await skopeo.inspect(`docker://${registry.host}/broken/prepared:1.36`, ['--raw'], { timeoutMs: SKOPEO_TIMEOUT_MS }));
  assert.equal(sha256(raw.stdout), lines.get('broken/prepared:1.36'));
  ok(await skopeo.copy(`docker://${registry.host}/broken/prepared:v2`, `oci:${path.join(dir, 'out')}:v2`, [], { timeoutMs: SKOPEO_TIMEOUT_MS }));
});

test('one image of several is chosen with --image; --tag alone on several images is bad usage', async (t) => {
  const dir = await makeTempDir(t);
  const storeDir = path.join(dir, 'store');
  const { busybox, app } = await twoSavedImages();
  const file = await writeTar(dir, 'save.tar', await dockerSaveTar([busybox, app]));
  const refused = await prepare(storeDir, [file, '--tag', 'x']);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /^broken-reg: the tarball holds 2 images \(.*\): choose one with --image/);
  assert.deepEqual(await listFiles(storeDir), []);
  const chosen = succeeded(await prepare(storeDir, [file, '--image', 'example.com:5000/team/app:v2', '--tag', 'x']));
  assert.match(chosen.stdout, /^broken\/prepared:x sha256:[a-f0-9]{64}\n$/);
  const clash = await writeTar(dir, 'clash.tar', await dockerSaveTar([{ ...busybox, repoTags: ['one/app:latest'] }, { ...app, repoTags: ['two/app'] }]));
  const clashed = await prepare(storeDir, [clash]);
  assert.equal(clashed.code, 2);
  assert.match(clashed.stderr, /images one\/app:latest and two\/app would both be tag latest: import one at a time with --image and --tag/);
  const { oci, docker } = await makeTestImages();
  const layout = await writeTar(dir, 'two.tar', (await ociLayoutTar([oci, docker], { refNames: true })).tar);
  const picked = succeeded(await prepare(storeDir, [layout, '--image', 'docker', '--tag', 'picked']));
  assert.equal(picked.stdout, `broken/prepared:picked ${docker.manifest.digest}\n`);
});

test('Docker 25 blobs/sha256 paths, from stdin, with --json', async (t) => {
  const dir = await makeTempDir(t);
  const { busybox } = await twoSavedImages();
  const result = succeeded(await prepare(path.join(dir, 'store'), ['-', '--tag', 'stdin', '--json'], await dockerSaveTar([busybox], 'blobs')));
  const json = JSON.parse(result.stdout) as { format: string; repository: string; images: { reference: string; digest: string; mediaType: string }[]; verified: boolean };
  assert.equal(json.format, 'docker-save');
  assert.equal(json.repository, 'broken/prepared');
  assert.equal(json.verified, true);
  assert.equal(json.images.length, 1);
  assert.equal(json.images[0]?.reference, 'broken/prepared:stdin');
  assert.equal(json.images[0]?.mediaType, MEDIA.dockerManifest);
  const registry = await startRegistry(t, { storeDir: path.join(dir, 'store') });
  assert.equal((await pull(registry, 'broken/prepared', 'stdin')).digest, json.images[0]?.digest);
});

test('--repo broken/prepared/x/y with BLOB_DIR, and a gzipped tarball', async (t) => {
  const dir = await makeTempDir(t);
  const storeDir = path.join(dir, 'store');
  const { oci } = await makeTestImages();
  const file = await writeTar(dir, 'oci.tar.gz', gzipSync((await ociLayoutTar([oci])).tar));
  const result = succeeded(await prepare(storeDir, [file, '--tag', 'nested', '--repo', 'broken/prepared/x/y'], undefined, { BLOB_DIR: storeDir }));
  assert.equal(result.stdout, `broken/prepared/x/y:nested ${oci.manifest.digest}\n`);
  const registry = await startRegistry(t, { storeDir });
  assert.deepEqual((await pull(registry, 'broken/prepared/x/y', 'nested')).bytes, oci.manifest.bytes);
  const { response } = await getBytes(registry, '/v2/broken/prepared/manifests/nested', { headers: { Accept: ACCEPT } });
  assert.equal(response.status, 404);
});

test('bad usage exits 2 and writes nothing', async (t) => {
  const dir = await makeTempDir(t);
  const storeDir = path.join(dir, 'store');
  const { index } = await makeTestImages();
  const file = await writeTar(dir, 'multi.tar', (await ociLayoutTar(index.children)).tar);
  const cases: [string[], RegExp][] = [
    [[file, '--tag', 'a', '--repo', 'library/alpine'], /--repo must be broken\/prepared or broken\/prepared\/<path>/],
    [[file, '--tag', 'a', '--repo', 'broken/prepared/Upper'], /not a valid repository name/],
    [[file, '--tag', 'bad tag!'], /--tag "bad tag!" is not a valid tag/],
    [[file], /index.json lists 2 manifests and names no tag: pass --tag NAME/],
  ];
  for (const [args, message] of cases) {
    const result = await prepare(storeDir, args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  }
  assert.deepEqual((await listFiles(storeDir)).filter((f) => !f.startsWith('tmp/')), []);
});

test('corrupt input fails with exit 1 and one line, leaving the store as it was', async (t) => {
  const dir = await makeTempDir(t);
  const storeDir = path.join(dir, 'store');
  const { oci, docker } = await makeTestImages();
  succeeded(await prepare(storeDir, ['-', '--tag', 'base'], (await ociLayoutTar([oci])).tar));
  const before = await listFiles(storeDir);
  // A layout sharing oci's blobs with the store and bringing docker's new ones.
  const both = await ociLayoutTar([oci, docker], { refNames: true });
  const [layer] = docker.blobs.slice(1);
  assert.ok(layer);
  const tampered = both.entries.map((entry): TarEntry => (entry.name === blobEntry(layer).name ? { ...entry, content: Buffer.concat([layer.bytes, Buffer.from('x')]) } : entry));
  const withoutLayer = both.entries.filter((entry) => entry.name !== blobEntry(layer).name);
  const { busybox } = await twoSavedImages();
  const badLayer = { ...busybox, layers: [busybox.layers[0] ?? Buffer.alloc(0), await layerTar({ 'etc/a': 'tampered\n' })] };
  const cases: [string, Buffer, RegExp][] = [
    ['truncated', both.tar.subarray(0, both.tar.length - 1024 - 256), /the tarball is truncated/],
    ['digest mismatch', await tarOf(tampered), /content has digest sha256:.*not the sha256:.* its name claims/],
    ['missing blob', await tarOf(withoutLayer), /blob sha256:.* is missing from the tarball/],
    ['not a tarball', Buffer.from('this is not a tar archive\n'.repeat(100)), /not a tar archive/],
    ['empty', Buffer.alloc(0), /not an image tarball: the archive is empty/],
    ['neither format', await tarOf([{ name: 'hello.txt', content: 'hello' }]), /neither index.json \(OCI image layout\) nor manifest.json \(docker save\)/],
    ['diff_id mismatch', await dockerSaveTar([badLayer]), /Layers\[1\].*not diff_id sha256:/],
    ['docker save missing layer', await tarOf([{ name: 'manifest.json', content: JSON.stringify([{ Config: 'c.json', RepoTags: ['a:b'], Layers: [] }]) }]), /Config: c.json is missing/],
    ['bad gzip', gzipSync(both.tar).subarray(0, 2000), /gzip stream is corrupt|truncated/],
  ];
  for (const [name, bytes, message] of cases) {
    const result = await prepare(storeDir, [await writeTar(dir, `${name}.tar`, bytes), '--tag', 'bad']);
    assert.equal(result.code, 1, `${name}: ${result.stderr}`);
    assert.match(result.stderr, message, name);
    assert.equal(result.stderr.trim().split('\n').length, 1, `${name}: one line`);
    assert.equal(result.stdout, '', name);
    assert.deepEqual(await listFiles(storeDir), before, `${name}: store unchanged`);
  }
  const missing = await prepare(storeDir, [path.join(dir, 'nope.tar'), '--tag', 'bad']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /cannot read .*nope\.tar: ENOENT/);
  assert.deepEqual(await listFiles(storeDir), before);
});

test('--no-verify imports broken content as-is', async (t) => {
  const dir = await makeTempDir(t);
  const storeDir = path.join(dir, 'store');
  const { oci } = await makeTestImages();
  const layout = await ociLayoutTar([oci]);
  const [config, layer] = oci.blobs;
  assert.ok(config && layer);
  const corrupt = Buffer.from(layer.bytes);
  corrupt.writeUInt8((corrupt.at(-1) ?? 0) ^ 0xff, corrupt.length - 1);
  const entries = layout.entries
    .filter((entry) => entry.name !== blobEntry(config).name)
    .map((entry) => (entry.name === blobEntry(layer).name ? { ...entry, content: corrupt } : entry));
  const file = await writeTar(dir, 'broken.tar', await tarOf(entries));
  assert.equal((await prepare(storeDir, [file, '--tag', 'broken'])).code, 1);
  const result = succeeded(await prepare(storeDir, [file, '--tag', 'broken', '--no-verify']));
  assert.equal(result.stdout, `broken/prepared:broken ${oci.manifest.digest}\n`);
  assert.match(result.stderr, /without verification/);
  const registry = await startRegistry(t, { storeDir });
  const manifest = await getBytes(registry, '/v2/broken/prepared/manifests/broken', { headers: { Accept: ACCEPT } });
  assert.deepEqual(manifest.body, oci.manifest.bytes);
  const served = await getBytes(registry, `/v2/broken/prepared/blobs/${layer.digest}`);
  assert.equal(served.response.status, 200);
  assert.deepEqual(served.body, corrupt, 'the corrupt layer is served under its claimed digest');
  assert.equal((await getBytes(registry, `/v2/broken/prepared/blobs/${config.digest}`)).response.status, 404);
});

test('skopeo docker-archive and oci-archive tarballs import and pull back with skopeo', async (t) => {
  if (!requireTool(t, 'skopeo')) return;
  const dir = await makeTempDir(t);
  const images = await makeTestImages();
  const layout = path.join(dir, 'layout');
  await writeOciLayout(layout, [images.oci, images.index]);
  const registry = await startRegistry(t, { storeDir: path.join(dir, 'store') });
  const skopeo = await createSkopeo(t, [registry.host]);
  const copy = async (from: string, to: string, flags: string[] = []) => ok(await skopeo.copy(from, to, flags, { timeoutMs: SKOPEO_TIMEOUT_MS }));

  const dockerArchive = path.join(dir, 'docker.tar');
  await copy(`oci:${layout}:oci`, `docker-archive:${dockerArchive}:example.com/team/oci:1.0`);
  const saved = printed(succeeded(await prepare(registry.storeDir, [dockerArchive])));
  assert.deepEqual([...saved.keys()], ['broken/prepared:1.0']);
  const pulled = await pull(registry, 'broken/prepared', '1.0');
  const config = JSON.parse((await getBytes(registry, `/v2/broken/prepared/blobs/${pulled.blobs[0]}`)).body.toString()) as { rootfs: { diff_ids: string[] } };
  assert.deepEqual(pulled.blobs.slice(1), config.rootfs.diff_ids, 'layers are the uncompressed tars');

  const ociArchive = path.join(dir, 'multi.tar');
  await copy(`oci:${layout}:multi`, `oci-archive:${ociArchive}:multi`, ['--all', '--preserve-digests']);
  const archived = printed(succeeded(await prepare(registry.storeDir, [ociArchive])));
  assert.deepEqual([...archived], [['broken/prepared:multi', images.index.manifest.digest]]);
  const out = path.join(dir, 'out');
  await copy(`docker://${registry.host}/broken/prepared:multi`, `oci:${out}:multi`, ['--all', '--preserve-digests']);
  const back = await readOciLayout(out, 'multi');
  assert.equal(back.digest, images.index.manifest.digest);
  assert.deepEqual(back.blobs, blobDigests(images.index));
  ok(await skopeo.copy(`docker://${registry.host}/broken/prepared:1.0`, `oci:${out}:single`, [], { timeoutMs: SKOPEO_TIMEOUT_MS }));
});

test('savedFrom turns a test image into a docker save that imports', async (t) => {
  const dir = await makeTempDir(t);
  const { docker } = await makeTestImages();
  const saved = savedFrom(docker, ['registry.example/docker:7']);
  const result = succeeded(await prepare(path.join(dir, 'store'), ['-'], await dockerSaveTar([saved])));
  assert.match(result.stdout, /^broken\/prepared:7 sha256:/);
});

/** Imports the test OCI image as broken/prepared:src and serves it, for real clients to pull and save. */
async function servedTestImage(t: TestContext) {
  const dir = await makeTempDir(t);
  const { oci } = await makeTestImages();
  const registry = await startRegistry(t, { storeDir: path.join(dir, 'store') });
  succeeded(await prepare(registry.storeDir, ['-', '--tag', 'src'], (await ociLayoutTar([oci])).tar));
  return { dir, oci, registry, source: `${registry.host}/broken/prepared:src` };
}

/** Imports a saved tarball without --tag and checks the tag and the config (the image ID) pull back. */
async function importSaved(registry: TestRegistry, file: string, repo: string, oci: TestImage): Promise<void> {
  const lines = printed(succeeded(await prepare(registry.storeDir, [file, '--repo', repo])));
  assert.deepEqual([...lines.keys()], [`${repo}:src`]);
  const pulled = await pull(registry, repo, 'src');
  assert.equal(pulled.digest, lines.get(`${repo}:src`));
  assert.equal(pulled.blobs[0], oci.blobs[0]?.digest, 'the config, so the image ID, is unchanged');
}

test('real docker save output imports (docker 25+: OCI layout plus manifest.json)', { timeout: 180_000 }, async (t) => {
  if (!requireTools(t, 'docker', 'dockerd')) return;
  const { dir, oci, registry, source } = await servedTestImage(t);
  const scope = new Scope(); // stops dockerd before its temp dir goes
  t.after(() => scope.close());
  const docker = await startDockerd(scope, { insecureRegistries: [registry.host] });
  ok(await docker.run(['pull', source], { timeoutMs: SKOPEO_TIMEOUT_MS }));
  const saved = path.join(dir, 'docker-save.tar');
  ok(await docker.run(['save', '-o', saved, source], { timeoutMs: SKOPEO_TIMEOUT_MS }));
  await importSaved(registry, saved, 'broken/prepared/docker', oci);
});

test('real podman save output imports, as docker-archive and as oci-archive', { timeout: 180_000 }, async (t) => {
  if (!requireTools(t, 'podman')) return;
  const { dir, oci, registry, source } = await servedTestImage(t);
  const scope = new Scope();
  t.after(() => scope.close());
  const podman = await createPodman(scope, [registry.host]);
  ok(await podman.pull(source, [], { timeoutMs: SKOPEO_TIMEOUT_MS }));
  for (const format of ['docker-archive', 'oci-archive']) {
    const saved = path.join(dir, `${format}.tar`);
    ok(await podman.run(['save', '--format', format, '-o', saved, source], { timeoutMs: SKOPEO_TIMEOUT_MS }));
    await importSaved(registry, saved, `broken/prepared/podman/${format.replace('-', '')}`, oci);
  }
});
