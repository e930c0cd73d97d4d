// broken-reg inspect: a known store built through the real server over HTTP, then the real CLI binary
// (explicit env, a timeout) for the table, the trees, JSON and exit codes; the render functions alone
// with colour on and off.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Chalk } from 'chalk';
import { makeTempDir, startRegistry, type TestRegistry } from './helpers/registry.js';
import { runCli as runBin, type CliResult } from './helpers/cli.js';
import { MediaType } from '../src/oci/media-types.js';
import { FsStore } from '../src/store/store.js';
import { collectStore } from '../src/inspect/collect.js';
import { collectTree } from '../src/inspect/tree.js';
import { parseImageRef } from '../src/inspect/ref.js';
import { renderStore } from '../src/inspect/render.js';
import { renderTree } from '../src/inspect/render-tree.js';
import { humanSize } from '../src/inspect/table.js';
import { shortDigest } from '../src/oci/digest.js';
import type { ImageTree, ManifestSummary, StoreReport } from '../src/inspect/model.js';

const ANSI = /\x1b\[[0-9;]*m/;
const { ociManifest: OCI_MANIFEST, ociIndex: OCI_INDEX, ociConfig: OCI_CONFIG, ociLayerGzip: OCI_LAYER } = MediaType;
const { dockerManifest: DOCKER_MANIFEST, dockerConfig: DOCKER_CONFIG, dockerLayerGzip: DOCKER_LAYER } = MediaType;

// ---- content and pushes ----

interface Blob {
  bytes: Buffer;
  digest: string;
  size: number;
}

function blob(data: string | Buffer): Blob {
  const bytes = Buffer.from(data);
  return { bytes, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length };
}

const describe = (item: Blob, mediaType: string, extra: object = {}) => ({ mediaType, digest: item.digest, size: item.size, ...extra });

/** Every blob the store holds after the pushes, so the test knows the expected totals. */
class Pusher {
  readonly stored = new Map<string, number>();
  constructor(private readonly registry: TestRegistry) {}

  /** A blob by monolithic POST ?digest=, or a manifest by PUT (by digest when reference is null). */
  private async send(method: 'POST' | 'PUT', url: string, contentType: string, item: Blob): Promise<Blob> {
    const init = { method, headers: { 'Content-Type': contentType }, body: new Uint8Array(item.bytes), signal: AbortSignal.timeout(10_000) };
    const response = await fetch(`${this.registry.url}/v2/${url}`, init);
    await response.arrayBuffer();
    assert.equal(response.status, 201, `${method} ${url}`);
    this.stored.set(item.digest, item.size);
    return item;
  }

  async blob(repo: string, item: Blob): Promise<void> {
    await this.send('POST', `${repo}/blobs/uploads/?digest=${item.digest}`, 'application/octet-stream', item);
  }

  async manifest(repo: string, reference: string | null, mediaType: string, value: object): Promise<Blob> {
    const item = blob(JSON.stringify(value));
    return this.send('PUT', `${repo}/manifests/${reference ?? item.digest}`, mediaType, item);
  }

  /** Pushes config and layers (except those in `skip`) and the manifest; returns the manifest and its image size. */
  async image(repo: string, tag: string | null, kind: 'oci' | 'docker', config: Blob, layers: Blob[], skip: Blob[] = []) {
    for (const item of [config, ...layers]) if (!skip.includes(item)) await this.blob(repo, item);
    const [type, configType, layerType] = kind === 'oci' ? [OCI_MANIFEST, OCI_CONFIG, OCI_LAYER] : [DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER];
    const manifest = await this.manifest(repo, tag, type, {
      schemaVersion: 2,
      mediaType: type,
      config: describe(config, configType),
      layers: layers.map((layer) => describe(layer, layerType)),
    });
    const distinct = new Map([config, ...layers].map((item) => [item.digest, item.size]));
    const size = manifest.size + [...distinct.values()].reduce((sum, n) => sum + n, 0);
    return { manifest, size };
  }
}

async function buildStore(t: TestContext) {
  const registry = await startRegistry(t);
  const push = new Pusher(registry);
  const shared = blob(Buffer.alloc(1000, 's'));
  const empty = blob(Buffer.alloc(32, 0));
  const dockerConfig = blob(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const docker = await push.image('broken/prepared/docker', 'v1', 'docker', dockerConfig, [shared, blob(Buffer.alloc(2000, 'd'))]);
  const ociConfig = blob(JSON.stringify({ architecture: 'amd64', os: 'linux', oci: true }));
  const ociOwn = blob(Buffer.alloc(3000, 'o'));
  const oci = await push.image('broken/prepared/oci', 'v1', 'oci', ociConfig, [shared, empty, ociOwn, empty]);
  const untagged = await push.image('broken/prepared/oci', null, 'oci', ociConfig, [ociOwn]);
  const platforms = [
    { os: 'linux', architecture: 'amd64' },
    { os: 'linux', architecture: 'arm64', variant: 'v8' },
  ];
  const children = [];
  for (const [i, platform] of platforms.entries()) {
    const config = blob(JSON.stringify({ ...platform, rootfs: { type: 'layers', diff_ids: [] } }));
    const image = await push.image('broken/prepared/multi', null, 'oci', config, [blob(Buffer.alloc(500 + i, 'm'))]);
    children.push({ ...image, platform, config });
  }
  const index = await push.manifest('broken/prepared/multi', 'latest', OCI_INDEX, {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: children.map((child) => describe(child.manifest, OCI_MANIFEST, { platform: child.platform })),
  });
  const lost = blob('a layer nobody ever uploaded');
  const broken = await push.image('broken/prepared/broken', 'v1', 'oci', ociConfig, [shared, lost], [lost]);
  const cached = await push.image('broken/prepared/cached', 'v1', 'oci', ociConfig, [blob('cached layer')]);
  await fs.writeFile(path.join(registry.storeDir, 'repositories/broken/prepared/cached/_meta.json'), JSON.stringify({ upstream: 'quay.io' }));
  const orphan = blob('nobody refers to me');
  await push.blob('broken/prepared/docker', orphan);
  return { registry, push, docker, oci, untagged, children, index, broken, lost, cached, orphan, indexSize: children[0]!.size + children[1]!.size };
}

// ---- the CLI ----

/** `broken-reg inspect <args>` with exactly this environment (plus PATH and the test's HOME). */
function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return runBin(['inspect', ...args], { env, timeoutMs: 30_000 });
}

async function ok(args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  const run = await runCli(args, env);
  assert.equal(run.code, 0, `inspect ${args.join(' ')}: ${run.stderr}`);
  assert.equal(run.stderr, '');
  assert.doesNotMatch(run.stdout, ANSI, 'no colour when stdout is not a terminal');
  return run.stdout;
}

const summary = (digest: string, mediaType: string, kind: ManifestSummary['kind'], size: number, extra: Partial<ManifestSummary> = {}) => ({
  digest, mediaType, kind, size, platforms: [], missingBlobs: [], subject: null, ...extra,
});

test('inspect reports a store built over HTTP: table, JSON, trees and exit codes', async (t) => {
  const s = await buildStore(t);
  const store = s.registry.storeDir;
  const env = { BLOB_DIR: store, NO_COLOR: '1' };

  await t.test('JSON lists every repository, tag, size, missing and orphan blob', async () => {
    const report = JSON.parse(await ok(['--json'], env)) as StoreReport;
    const bytes = [...s.push.stored.values()].reduce((sum, n) => sum + n, 0);
    assert.deepEqual(report, {
      schemaVersion: 1,
      store,
      repositories: [
        { name: 'broken/prepared/broken', cachedFrom: null, manifestCount: 1, untagged: [],
          tags: [{ tag: 'v1', ...summary(s.broken.manifest.digest, OCI_MANIFEST, 'image', s.broken.size, { missingBlobs: [s.lost.digest] }) }] },
        { name: 'broken/prepared/cached', cachedFrom: 'quay.io', manifestCount: 1, untagged: [],
          tags: [{ tag: 'v1', ...summary(s.cached.manifest.digest, OCI_MANIFEST, 'image', s.cached.size) }] },
        { name: 'broken/prepared/docker', cachedFrom: null, manifestCount: 1, untagged: [],
          tags: [{ tag: 'v1', ...summary(s.docker.manifest.digest, DOCKER_MANIFEST, 'image', s.docker.size) }] },
        { name: 'broken/prepared/multi', cachedFrom: null, manifestCount: 3, untagged: [],
          tags: [{ tag: 'latest', ...summary(s.index.digest, OCI_INDEX, 'index', s.indexSize, { platforms: ['linux/amd64', 'linux/arm64/v8'] }) }] },
        { name: 'broken/prepared/oci', cachedFrom: null, manifestCount: 2,
          tags: [{ tag: 'v1', ...summary(s.oci.manifest.digest, OCI_MANIFEST, 'image', s.oci.size) }],
          untagged: [summary(s.untagged.manifest.digest, OCI_MANIFEST, 'image', s.untagged.size)] },
      ],
      blobs: { count: s.push.stored.size, bytes },
      orphanBlobs: [{ digest: s.orphan.digest, size: s.orphan.size }],
      problems: [],
    });
  });

  await t.test('the table lists every repository, tag, digest and the total', async () => {
    const text = await ok(['--store', store], { NO_COLOR: '1' });
    const lines = text.split('\n');
    const header = lines.find((line) => line.startsWith('REPOSITORY'));
    assert.ok(header, text);
    for (const [repo, tag, digest] of [
      ['broken/prepared/broken', 'v1', s.broken.manifest.digest], ['broken/prepared/cached', 'v1', s.cached.manifest.digest],
      ['broken/prepared/docker', 'v1', s.docker.manifest.digest], ['broken/prepared/multi', 'latest', s.index.digest],
      ['broken/prepared/oci', 'v1', s.oci.manifest.digest], ['broken/prepared/oci', '<none>', s.untagged.manifest.digest],
    ] as const) {
      const row = lines.find((line) => line.startsWith(`${repo} `) && line.includes(` ${tag} `) && line.includes(shortDigest(digest)));
      assert.ok(row, `a row for ${repo} ${tag}:\n${text}`);
      assert.equal(row.indexOf(shortDigest(digest)), header.indexOf('DIGEST'), 'columns are aligned');
    }
    assert.match(text, /broken\/prepared\/broken .*1 blob missing/);
    assert.match(text, /broken\/prepared\/cached .*cached from quay\.io/);
    assert.match(text, /linux\/amd64, linux\/arm64\/v8/);
    assert.ok(lines.some((line) => line.startsWith(shortDigest(s.orphan.digest))), 'the orphan blob is listed');
    const bytes = [...s.push.stored.values()].reduce((sum, n) => sum + n, 0);
    assert.match(text, new RegExp(`${s.push.stored.size} blobs, ${humanSize(bytes)} on disk; 1 orphan blob`));
  });

  await t.test('the tree of a Docker image by tag', async () => {
    const tree = JSON.parse(await ok(['broken/prepared/docker:v1', '--json'], env)) as ImageTree;
    assert.equal(tree.reference, 'broken/prepared/docker:v1');
    assert.equal(tree.digest, s.docker.manifest.digest);
    assert.equal(tree.size, s.docker.size);
    assert.deepEqual(tree.missingBlobs, []);
    assert.equal(tree.root.role, 'manifest');
    assert.equal(tree.root.mediaType, DOCKER_MANIFEST);
    assert.deepEqual(tree.root.children.map((node) => [node.role, node.mediaType, node.present]), [
      ['config', DOCKER_CONFIG, true], ['layer', DOCKER_LAYER, true], ['layer', DOCKER_LAYER, true],
    ]);
    const text = await ok(['broken/prepared/docker:v1'], env);
    assert.match(text, new RegExp(`Digest +${s.docker.manifest.digest}`));
    assert.match(text, /^├── config +sha256:[0-9a-f]{12} /m);
    assert.match(text, /^└── layer /m);
    assert.match(text, /All blobs present\./);
  });

  await t.test('the tree of an OCI image by digest keeps repeated layers and counts them once', async () => {
    const ref = `broken/prepared/oci@${s.oci.manifest.digest}`;
    const tree = JSON.parse(await ok([ref, '--json'], env)) as ImageTree;
    assert.equal(tree.reference, ref);
    assert.equal(tree.tag, null);
    assert.equal(tree.size, s.oci.size);
    assert.deepEqual(tree.root.children.map((node) => node.role), ['config', 'layer', 'layer', 'layer', 'layer']);
    assert.equal(tree.root.children[2]?.digest, tree.root.children[4]?.digest);
  });

  await t.test('the tree of an index, with REF meaning repo:latest', async () => {
    const tree = JSON.parse(await ok(['broken/prepared/multi', '--json'], env)) as ImageTree;
    assert.equal(tree.reference, 'broken/prepared/multi:latest');
    assert.equal(tree.root.role, 'index');
    assert.equal(tree.size, s.indexSize);
    assert.deepEqual(tree.root.children.map((node) => [node.role, node.digest, node.size, node.platform]), [
      ['manifest', s.children[0]!.manifest.digest, s.children[0]!.manifest.size, { os: 'linux', architecture: 'amd64', variant: null }],
      ['manifest', s.children[1]!.manifest.digest, s.children[1]!.manifest.size, { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ]);
    assert.deepEqual(tree.root.children[1]?.children.map((node) => [node.role, node.digest]), [
      ['config', s.children[1]!.config.digest], ['layer', tree.root.children[1]?.children[1]?.digest],
    ]);
    const text = await ok(['broken/prepared/multi:latest'], env);
    assert.match(text, /^index +sha256:/m);
    assert.match(text, /^├── manifest linux\/amd64 /m);
    assert.match(text, /^│   ├── config /m);
    assert.match(text, /^└── manifest linux\/arm64\/v8 /m);
    assert.match(text, /^    └── layer /m);
  });

  await t.test('a missing layer is marked in the tree', async () => {
    const tree = JSON.parse(await ok(['broken/prepared/broken:v1', '--json'], env)) as ImageTree;
    assert.deepEqual(tree.missingBlobs, [s.lost.digest]);
    assert.deepEqual(tree.root.children.map((node) => node.present), [true, true, false]);
    const text = await ok(['broken/prepared/broken:v1'], env);
    assert.match(text, new RegExp(`^└── layer +${shortDigest(s.lost.digest)} .* MISSING$`, 'm'));
    assert.match(text, new RegExp(`1 blob missing from the store:\\n  ${s.lost.digest}`));
  });

  await t.test('unknown references exit 1, malformed ones 2, each with one line', async () => {
    for (const [ref, message] of [
      ['broken/prepared/nope:v1', /repository broken\/prepared\/nope is not in the store/],
      ['broken/prepared/docker:v2', /tag v2 is not in repository broken\/prepared\/docker \(tags: v1\)/],
      [`broken/prepared/docker@${s.oci.manifest.digest}`, /manifest sha256:[0-9a-f]{64} is not in repository broken\/prepared\/docker/],
    ] as const) {
      const run = await runCli([ref], env);
      assert.equal(run.code, 1, ref);
      assert.match(run.stderr, message);
      assert.equal(run.stderr.trim().split('\n').length, 1);
      assert.equal(run.stdout, '');
    }
    for (const ref of ['Broken/prepared:v1', 'broken/prepared:bad!tag', 'broken/prepared@sha256:abc', 'broken/prepared@']) {
      const run = await runCli([ref], env);
      assert.equal(run.code, 2, ref);
      assert.match(run.stderr, /^broken-reg: invalid reference "/);
    }
  });

  await t.test('no colour when stdout is not a terminal, even without NO_COLOR', async () => {
    await ok([], { BLOB_DIR: store, FORCE_COLOR: '1' });
    await ok(['broken/prepared/broken:v1'], { BLOB_DIR: store, FORCE_COLOR: '1' });
  });

  await t.test('inspect works while the server writes', async () => {
    const writes = (async () => {
      for (let i = 0; i < 20; i++) await s.push.image('broken/prepared/busy', `t${i}`, 'oci', blob(`config ${i}`), [blob(`layer ${i}`)]);
    })();
    const runs = await Promise.all([runCli(['--json'], env), runCli(['--json'], env), runCli(['--json'], env)]);
    await writes;
    for (const run of runs) {
      assert.equal(run.code, 0, run.stderr);
      assert.ok(Array.isArray((JSON.parse(run.stdout) as StoreReport).repositories));
    }
  });
});

test('a store directory that does not exist is reported, not created', async (t) => {
  const home = await makeTempDir(t);
  const run = await runCli([], { HOME: home, NO_COLOR: '1' });
  assert.equal(run.code, 1);
  assert.equal(run.stderr, `broken-reg: store ${path.join(home, 'broken-reg')} does not exist (set --store or BLOB_DIR)\n`);
  await assert.rejects(fs.stat(path.join(home, 'broken-reg')));
});

test('a revision whose blob vanished is reported, not a crash', async (t) => {
  const registry = await startRegistry(t);
  const push = new Pusher(registry);
  const image = await push.image('broken/prepared/gone', 'v1', 'oci', blob('{}'), [blob('layer')]);
  const hex = image.manifest.digest.slice('sha256:'.length);
  await fs.rm(path.join(registry.storeDir, 'blobs/sha256', hex.slice(0, 2), hex));
  const store = await FsStore.open(registry.storeDir);
  const report = await collectStore(store);
  assert.deepEqual(report.problems, [
    { repository: 'broken/prepared/gone', digest: image.manifest.digest, message: 'manifest revision whose blob is missing from the store' },
  ]);
  assert.deepEqual(report.repositories[0]?.tags[0], { tag: 'v1', ...summary(image.manifest.digest, OCI_MANIFEST, 'missing', 0, { size: null, missingBlobs: [image.manifest.digest] }) });
  assert.equal(report.orphanBlobs.length, 2, 'its config and layer are no longer referenced');
  const result = await collectTree(store, { repository: 'broken/prepared/gone', tag: 'v1', digest: null });
  assert.ok(result.found);
  assert.equal(result.tree.root.present, false);
  assert.deepEqual(result.tree.missingBlobs, [image.manifest.digest]);
  const text = await ok([], { BLOB_DIR: registry.storeDir, NO_COLOR: '1' });
  assert.match(text, /Problems\nbroken\/prepared\/gone .*manifest revision whose blob is missing/);
});

test('render functions colour only when asked, with the same layout', async (t) => {
  const registry = await startRegistry(t);
  const push = new Pusher(registry);
  await push.image('broken/prepared/r', 'v1', 'oci', blob('{}'), [blob('present')]);
  const absent = blob('absent');
  await push.image('broken/prepared/r', 'v2', 'oci', blob('{}'), [absent], [absent]);
  await push.blob('broken/prepared/r', blob('orphan'));
  const store = await FsStore.open(registry.storeDir);
  const report = await collectStore(store);
  const result = await collectTree(store, { repository: 'broken/prepared/r', tag: 'v2', digest: null });
  assert.ok(result.found);
  const on = { color: new Chalk({ level: 1 }) };
  const off = { color: new Chalk({ level: 0 }) };
  for (const render of [() => renderStore(report, on), () => renderTree(result.tree, on)]) {
    const coloured = render().join('\n');
    assert.match(coloured, ANSI);
    assert.match(coloured, /\x1b\[31m/, 'missing in red');
  }
  const strip = (lines: string[]) => lines.map((line) => line.replace(new RegExp(ANSI, 'g'), ''));
  assert.deepEqual(strip(renderStore(report, on)), renderStore(report, off));
  assert.deepEqual(strip(renderTree(result.tree, on)), renderTree(result.tree, off));
  assert.doesNotMatch(renderStore(report, off).join('\n'), ANSI);
  assert.ok(renderStore(report, { ...off, fullDigests: true }).some((line) => line.includes(result.tree.digest)));
});

test('references: repo, repo:tag, repo@digest; malformed ones refused', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  assert.deepEqual(parseImageRef('a/b'), { ok: true, ref: { repository: 'a/b', tag: 'latest', digest: null } });
  assert.deepEqual(parseImageRef('a/b:v1'), { ok: true, ref: { repository: 'a/b', tag: 'v1', digest: null } });
  assert.deepEqual(parseImageRef(`a/b@${digest}`), { ok: true, ref: { repository: 'a/b', tag: null, digest } });
  assert.deepEqual(parseImageRef(`a/b:v1@${digest}`), { ok: true, ref: { repository: 'a/b', tag: 'v1', digest } });
  for (const bad of ['', 'A/b', 'a/b:', 'a//b', 'a/b@sha256:zz', 'a/b@md5:abc', 'localhost:5000/a']) {
    assert.equal(parseImageRef(bad).ok, false, bad);
  }
});
