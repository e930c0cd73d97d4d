// Checks a broken/random image of any shape from its bytes alone, by routes independent of the
// generator: sha256 afresh, node:zlib for gzip, Debian's zstd for zstd, tar-stream for the tars. The
// manifests and blobs come from wherever the test got them (memory, or the registry over HTTP).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import tar from 'tar-stream';

const execFileAsync = promisify(execFile);

export const sha256 = (bytes: Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** The platforms of platforms-N, written out again here rather than imported. */
export const PLATFORMS = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
  { os: 'linux', architecture: 'arm', variant: 'v7' },
  { os: 'linux', architecture: 'ppc64le' },
  { os: 'linux', architecture: 's390x' },
  { os: 'linux', architecture: '386' },
  { os: 'linux', architecture: 'riscv64' },
  { os: 'windows', architecture: 'amd64' },
];

export interface Shape {
  layers: number;
  size: number;
  format: 'docker' | 'oci';
  /** 0 for one image manifest without an index. */
  platforms: number;
  comp: 'gzip' | 'zstd' | 'none';
  files: number;
  attest: boolean;
}

export const DEFAULT_SHAPE: Shape = { layers: 1, size: 0, format: 'docker', platforms: 0, comp: 'gzip', files: 1, attest: false };

export interface Fetcher {
  manifest(digest: string): Promise<{ bytes: Buffer; mediaType: string }>;
  blob(digest: string): Promise<Buffer>;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface TarEntry {
  name: string;
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  content: Buffer;
}

export interface CheckedImage {
  digest: string;
  config: { architecture: string; os: string; variant?: string; rootfs: { diff_ids: string[] } };
  layers: { digest: string; mediaType: string; tar: Buffer; entries: TarEntry[] }[];
}

export interface CheckedTree {
  digest: string;
  mediaType: string;
  images: CheckedImage[];
  /** Attestation manifests by the digest of the image they describe. */
  attestations: Map<string, { digest: string; statement: { subject: { digest: { sha256: string } }[]; predicateType: string } }>;
}

const TYPES = {
  docker: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    index: 'application/vnd.docker.distribution.manifest.list.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: { gzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip', zstd: 'application/vnd.docker.image.rootfs.diff.tar.zstd', none: 'application/vnd.docker.image.rootfs.diff.tar' },
  },
  oci: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    index: 'application/vnd.oci.image.index.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: { gzip: 'application/vnd.oci.image.layer.v1.tar+gzip', zstd: 'application/vnd.oci.image.layer.v1.tar+zstd', none: 'application/vnd.oci.image.layer.v1.tar' },
  },
} as const;

/** Decompresses with Debian's zstd: `zstd -t` must pass and `zstd -d` gives the tar. */
export async function zstdDecompress(blob: Buffer): Promise<Buffer> {
  const run = (args: string[]) => {
    const child = execFileAsync('zstd', args, { encoding: 'buffer', maxBuffer: 1 << 30, timeout: 30_000 });
    child.child.stdin?.end(blob);
    return child;
  };
  await run(['-t', '-q', '-']);
  const { stdout } = await run(['-d', '-c', '-q', '-']);
  return stdout as Buffer;
}

export async function readTar(bytes: Buffer): Promise<TarEntry[]> {
  const entries: TarEntry[] = [];
  const extract = tar.extract();
  Readable.from([bytes]).pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const h = entry.header;
    entries.push({ name: h.name, type: String(h.type), size: h.size ?? -1, mode: h.mode ?? -1, uid: h.uid ?? -1, gid: h.gid ?? -1, mtime: h.mtime?.getTime() ?? -1, content: Buffer.concat(chunks) });
  }
  return entries;
}

/** Checks the whole tree under the top manifest against the shape; returns what it found. */
export async function checkRandomTree(top: { bytes: Buffer; mediaType: string; digest: string }, shape: Shape, fetch: Fetcher): Promise<CheckedTree> {
  assert.equal(sha256(top.bytes), top.digest, 'top manifest digest');
  const types = TYPES[shape.format];
  const parsed = JSON.parse(top.bytes.toString('utf8'));
  const tree: CheckedTree = { digest: top.digest, mediaType: top.mediaType, images: [], attestations: new Map() };
  if (shape.platforms === 0) {
    assert.equal(top.mediaType, types.manifest);
    tree.images.push(await checkImage(top.bytes, top.digest, PLATFORMS[0]!, shape, fetch));
    return tree;
  }
  assert.equal(top.mediaType, types.index);
  assert.equal(parsed.mediaType, types.index);
  assert.equal(parsed.schemaVersion, 2);
  const entries = parsed.manifests as Descriptor[];
  assert.equal(entries.length, shape.platforms * (shape.attest ? 2 : 1));
  for (const [i, entry] of entries.slice(0, shape.platforms).entries()) {
    assert.equal(entry.mediaType, types.manifest);
    assert.deepEqual(entry.platform, PLATFORMS[i], `platform of child ${i}`);
    assert.equal(entry.annotations, undefined);
    const child = await fetch.manifest(entry.digest);
    assert.equal(child.mediaType, types.manifest);
    assert.equal(child.bytes.length, entry.size);
    tree.images.push(await checkImage(child.bytes, entry.digest, PLATFORMS[i]!, shape, fetch));
  }
  for (const [i, entry] of entries.slice(shape.platforms).entries()) {
    const image = tree.images[i]!;
    assert.equal(entry.mediaType, TYPES.oci.manifest);
    assert.deepEqual(entry.platform, { architecture: 'unknown', os: 'unknown' });
    assert.deepEqual(entry.annotations, { 'vnd.docker.reference.digest': image.digest, 'vnd.docker.reference.type': 'attestation-manifest' });
    const child = await fetch.manifest(entry.digest);
    assert.equal(sha256(child.bytes), entry.digest);
    assert.equal(child.bytes.length, entry.size);
    const manifest = JSON.parse(child.bytes.toString('utf8'));
    assert.equal(manifest.mediaType, TYPES.oci.manifest);
    assert.equal(manifest.config.mediaType, TYPES.oci.config);
    assert.equal(manifest.layers.length, 1);
    const [layer] = manifest.layers as Descriptor[];
    assert.equal(layer?.mediaType, 'application/vnd.in-toto+json');
    assert.deepEqual(layer?.annotations, { 'in-toto.io/predicate-type': 'https://slsa.dev/provenance/v0.2' });
    const statementBytes = await checkedBlob(fetch, layer!);
    const statement = JSON.parse(statementBytes.toString('utf8'));
    assert.equal(statement._type, 'https://in-toto.io/Statement/v0.1');
    assert.equal(statement.predicateType, layer?.annotations?.['in-toto.io/predicate-type']);
    assert.deepEqual(statement.subject.map((s: { digest: { sha256: string } }) => `sha256:${s.digest.sha256}`), [image.digest]);
    const config = JSON.parse((await checkedBlob(fetch, manifest.config)).toString('utf8'));
    assert.deepEqual({ os: config.os, architecture: config.architecture, diffIds: config.rootfs.diff_ids }, { os: 'unknown', architecture: 'unknown', diffIds: [layer?.digest] });
    tree.attestations.set(image.digest, { digest: entry.digest, statement });
  }
  return tree;
}

async function checkedBlob(fetch: Fetcher, descriptor: Descriptor): Promise<Buffer> {
  const blob = await fetch.blob(descriptor.digest);
  assert.equal(sha256(blob), descriptor.digest, `blob ${descriptor.digest}`);
  assert.equal(blob.length, descriptor.size, `size of ${descriptor.digest}`);
  return blob;
}

async function checkImage(bytes: Buffer, digest: string, platform: (typeof PLATFORMS)[number], shape: Shape, fetch: Fetcher): Promise<CheckedImage> {
  assert.equal(sha256(bytes), digest);
  const types = TYPES[shape.format];
  const manifest = JSON.parse(bytes.toString('utf8'));
  assert.equal(manifest.schemaVersion, 2);
  assert.equal(manifest.mediaType, types.manifest);
  assert.equal(manifest.config.mediaType, types.config);
  const config = JSON.parse((await checkedBlob(fetch, manifest.config)).toString('utf8'));
  assert.deepEqual({ os: config.os, architecture: config.architecture, variant: config.variant }, { variant: undefined, ...platform }, 'config platform');
  assert.equal(config.created, '1970-01-01T00:00:00Z');
  assert.equal(config.history.length, shape.layers);
  assert.equal(manifest.layers.length, shape.layers);
  const layers: CheckedImage['layers'] = [];
  for (const [index, descriptor] of (manifest.layers as Descriptor[]).entries()) {
    assert.equal(descriptor.mediaType, types.layer[shape.comp]);
    const blob = await checkedBlob(fetch, descriptor);
    const tarBytes = shape.comp === 'gzip' ? zlib.gunzipSync(blob) : shape.comp === 'zstd' ? await zstdDecompress(blob) : blob;
    if (shape.comp === 'zstd') assert.deepEqual([...blob.subarray(0, 4)], [0x28, 0xb5, 0x2f, 0xfd], 'zstd magic');
    assert.equal(sha256(tarBytes), config.rootfs.diff_ids[index], `diff_id of layer ${index}`);
    const entries = await readTar(tarBytes);
    assert.equal(entries.length, shape.files);
    const names = entries.map((entry) => entry.name);
    assert.deepEqual(names, shape.files === 1 ? [`random-${index}.bin`] : entries.map((_, j) => `random-${index}-${j}.bin`));
    assert.equal(entries.reduce((sum, entry) => sum + entry.size, 0), shape.size);
    for (const entry of entries) {
      assert.deepEqual({ type: entry.type, mode: entry.mode, mtime: entry.mtime }, { type: 'file', mode: 0o644, mtime: 0 });
      assert.ok(Math.abs(entry.size - shape.size / shape.files) < 1, `file sizes split evenly: ${entry.size}`);
    }
    layers.push({ digest: descriptor.digest, mediaType: descriptor.mediaType, tar: tarBytes, entries });
  }
  return { digest, config, layers };
}
