// Test images built offline, byte for byte the same on every run: a single-platform OCI image, a
// Docker v2 schema 2 image and a two-platform OCI index, written as one OCI image layout (and, on
// request, as skopeo `dir:` directories). Readers walk what a client copied back out and check that
// every blob file matches its name, so tests can compare digests and know the bytes are the same.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export const MEDIA = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

const INDEX_TYPES = new Set<string>([MEDIA.ociIndex, MEDIA.dockerManifestList]);
const REF_NAME = 'org.opencontainers.image.ref.name';
/** A fixed time for tar headers and configs, so every build is the same. */
const EPOCH = new Date('2024-01-01T00:00:00Z');

export interface Blob {
  digest: string;
  size: number;
  mediaType: string;
  bytes: Buffer;
}

export interface Platform {
  os: string;
  architecture: string;
}

export interface TestImage {
  /** The tag (ref name) the image has in the layout. */
  tag: string;
  /** The manifest or index itself. */
  manifest: Blob;
  /** Config and layers; for an index, those of every platform. */
  blobs: Blob[];
  /** For an index: one image per platform. */
  children: TestImage[];
  platform?: Platform;
}

export interface TestImages {
  /**
   * The OCI image layout directory holding all three images. skopeo 1.9 does not read a Docker
   * manifest from an OCI layout ("no descriptor found"), so the Docker image is also in `dirs`.
   */
  layout: string;
  /** Each image as a skopeo `dir:` directory. */
  dirs: { oci: string; docker: string; index: string };
  oci: TestImage;
  docker: TestImage;
  index: TestImage;
}

interface FileEntry {
  name: string;
  content: string | Buffer;
  mode?: number;
}

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function blobOf(bytes: Buffer, mediaType: string): Blob {
  return { digest: sha256(bytes), size: bytes.length, mediaType, bytes };
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** Deterministic filler bytes: a counter run through sha256, so content is not trivially compressible. */
export function pseudoRandomBytes(seed: string, size: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  for (let i = 0; total < size; i++) {
    const chunk = createHash('sha256').update(`${seed}:${i}`).digest();
    chunks.push(chunk);
    total += chunk.length;
  }
  return Buffer.concat(chunks).subarray(0, size);
}

/** The whole output of a tar-stream pack, once it is finalized. */
export function packedBytes(pack: tar.Pack): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (chunk) => chunks.push(chunk as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
}

/** A tar of the files (with their parent directories), fixed owner and time. */
async function tarOf(files: FileEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const done = packedBytes(pack);
  const common = { mtime: EPOCH, uid: 0, gid: 0, uname: 'root', gname: 'root' };
  const directories = new Set<string>();
  for (const file of files) {
    const parts = file.name.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) directories.add(parts.slice(0, i).join('/'));
  }
  for (const directory of [...directories].sort()) {
    pack.entry({ ...common, name: `${directory}/`, type: 'directory', mode: 0o755 });
  }
  for (const file of files) {
    const content = Buffer.from(file.content);
    pack.entry({ ...common, name: file.name, type: 'file', mode: file.mode ?? 0o644, size: content.length }, content);
  }
  pack.finalize();
  return done;
}

interface Layer {
  blob: Blob;
  diffId: string;
}

async function layerOf(files: FileEntry[], mediaType: string): Promise<Layer> {
  const tarBytes = await tarOf(files);
  // gzip from node:zlib writes mtime 0 and no file name: the same bytes on every run.
  return { blob: blobOf(gzipSync(tarBytes, { level: 9 }), mediaType), diffId: sha256(tarBytes) };
}

function configOf(platform: Platform, layers: Layer[], cmd: string[], mediaType: string): Blob {
  const config = {
    created: EPOCH.toISOString(),
    architecture: platform.architecture,
    os: platform.os,
    config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: cmd, WorkingDir: '/' },
    rootfs: { type: 'layers', diff_ids: layers.map((layer) => layer.diffId) },
    history: layers.map((_, i) => ({ created: EPOCH.toISOString(), created_by: `broken-reg test layer ${i + 1}` })),
  };
  return blobOf(json(config), mediaType);
}

function descriptor(blob: Blob, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mediaType: blob.mediaType, digest: blob.digest, size: blob.size, ...extra };
}

interface ImageSpec {
  tag: string;
  format: 'oci' | 'docker';
  platform: Platform;
  layers: FileEntry[][];
  cmd: string[];
}

async function buildImage(spec: ImageSpec): Promise<TestImage> {
  const docker = spec.format === 'docker';
  const layerType = docker ? MEDIA.dockerLayerGzip : MEDIA.ociLayerGzip;
  const layers: Layer[] = [];
  for (const files of spec.layers) layers.push(await layerOf(files, layerType));
  const config = configOf(spec.platform, layers, spec.cmd, docker ? MEDIA.dockerConfig : MEDIA.ociConfig);
  const manifestType = docker ? MEDIA.dockerManifest : MEDIA.ociManifest;
  const manifest = {
    schemaVersion: 2,
    mediaType: manifestType,
    config: descriptor(config),
    layers: layers.map((layer) => descriptor(layer.blob)),
    ...(docker ? {} : { annotations: { 'org.opencontainers.image.title': `broken-reg test ${spec.tag}` } }),
  };
  return {
    tag: spec.tag,
    manifest: blobOf(json(manifest), manifestType),
    blobs: [config, ...layers.map((layer) => layer.blob)],
    children: [],
    platform: spec.platform,
  };
}

function buildIndex(tag: string, children: TestImage[]): TestImage {
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.ociIndex,
    manifests: children.map((child) => descriptor(child.manifest, { platform: child.platform })),
  };
  return {
    tag,
    manifest: blobOf(json(index), MEDIA.ociIndex),
    blobs: children.flatMap((child) => child.blobs),
    children,
  };
}

/** Every blob file of an image: the manifest, children's manifests, configs and layers. */
export function allBlobs(image: TestImage): Blob[] {
  return [image.manifest, ...image.children.map((child) => child.manifest), ...image.blobs];
}

/** The three test images, in memory. The same bytes on every call. */
export async function makeTestImages(): Promise<Omit<TestImages, 'layout' | 'dirs'>> {
  const amd64: Platform = { os: 'linux', architecture: 'amd64' };
  const oci = await buildImage({
    tag: 'oci',
    format: 'oci',
    platform: amd64,
    cmd: ['/hello'],
    layers: [
      [
        { name: 'hello', content: '#!/bin/sh\necho hello from broken-reg\n', mode: 0o755 },
        { name: 'etc/motd', content: 'an OCI test image built offline\n' },
      ],
      [
        { name: 'data/one.txt', content: 'one\n' },
        { name: 'data/random.bin', content: pseudoRandomBytes('oci-layer-2', 4096) },
      ],
    ],
  });
  const docker = await buildImage({
    tag: 'docker',
    format: 'docker',
    platform: amd64,
    cmd: ['/hello'],
    layers: [
      [
        { name: 'hello', content: '#!/bin/sh\necho hello from a docker v2 image\n', mode: 0o755 },
        { name: 'etc/motd', content: 'a Docker v2 schema 2 test image built offline\n' },
      ],
      [{ name: 'data/random.bin', content: pseudoRandomBytes('docker-layer-2', 3000) }],
    ],
  });
  const children: TestImage[] = [];
  for (const architecture of ['amd64', 'arm64']) {
    children.push(
      await buildImage({
        tag: `multi-${architecture}`,
        format: 'oci',
        platform: { os: 'linux', architecture },
        cmd: ['/arch'],
        layers: [[{ name: 'arch', content: `${architecture}\n` }, { name: 'data/random.bin', content: pseudoRandomBytes(architecture, 1024) }]],
      }),
    );
  }
  return { oci, docker, index: buildIndex('multi', children) };
}

async function writeBlob(blobsDir: string, blob: Blob): Promise<void> {
  const [algorithm, hex] = blob.digest.split(':') as [string, string];
  await fs.mkdir(path.join(blobsDir, algorithm), { recursive: true });
  await fs.writeFile(path.join(blobsDir, algorithm, hex), blob.bytes);
}

/** Writes images into an OCI image layout, each tagged with its ref name in index.json. */
export async function writeOciLayout(dir: string, images: TestImage[]): Promise<void> {
  await fs.mkdir(path.join(dir, 'blobs'), { recursive: true });
  for (const image of images) {
    for (const blob of allBlobs(image)) await writeBlob(path.join(dir, 'blobs'), blob);
  }
  await fs.writeFile(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.ociIndex,
    manifests: images.map((image) => descriptor(image.manifest, { annotations: { [REF_NAME]: image.tag } })),
  };
  await fs.writeFile(path.join(dir, 'index.json'), JSON.stringify(index));
}

/** Writes one image as a skopeo `dir:` directory (manifest.json, blobs named by hex digest). */
export async function writeDirImage(dir: string, image: TestImage): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, 'version'), 'Directory Transport Version: 1.1\n');
  await fs.writeFile(path.join(dir, 'manifest.json'), image.manifest.bytes);
  for (const child of image.children) {
    await fs.writeFile(path.join(dir, `${hexOf(child.manifest.digest)}.manifest.json`), child.manifest.bytes);
  }
  for (const blob of image.blobs) await fs.writeFile(path.join(dir, hexOf(blob.digest)), blob.bytes);
}

/** Builds the three test images into `<dir>/layout` and `<dir>/dir-<tag>`. */
export async function buildTestImages(dir: string): Promise<TestImages> {
  const images = await makeTestImages();
  const layout = path.join(dir, 'layout');
  await writeOciLayout(layout, [images.oci, images.docker, images.index]);
  const dirs = { oci: path.join(dir, 'dir-oci'), docker: path.join(dir, 'dir-docker'), index: path.join(dir, 'dir-multi') };
  await writeDirImage(dirs.oci, images.oci);
  await writeDirImage(dirs.docker, images.docker);
  await writeDirImage(dirs.index, images.index);
  return { layout, dirs, ...images };
}

function hexOf(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1);
}

// ---- Reading back what a client wrote -------------------------------------------------------

/** What was found by walking an image: its manifest digest and media type, and every blob digest. */
export interface FoundImage {
  digest: string;
  mediaType: string;
  /** Manifests of the children (for an index), then configs and layers, as the manifests list them. */
  blobs: string[];
  /** The raw manifest bytes. */
  manifest: Buffer;
}

type BlobReader = (digest: string, what: string) => Promise<Buffer>;

interface ManifestShape {
  mediaType?: string;
  config?: { digest: string };
  layers?: { digest: string }[];
  manifests?: { digest: string; mediaType?: string }[];
}

async function walk(manifestBytes: Buffer, mediaType: string, readBlob: BlobReader, readManifest: BlobReader): Promise<string[]> {
  const parsed = JSON.parse(manifestBytes.toString('utf8')) as ManifestShape;
  const blobs: string[] = [];
  if (INDEX_TYPES.has(mediaType) || parsed.manifests) {
    for (const child of parsed.manifests ?? []) {
      const bytes = await readManifest(child.digest, 'child manifest');
      blobs.push(child.digest, ...(await walk(bytes, child.mediaType ?? '', readBlob, readManifest)));
    }
    return blobs;
  }
  for (const ref of [parsed.config, ...(parsed.layers ?? [])]) {
    if (!ref) continue;
    await readBlob(ref.digest, 'blob');
    blobs.push(ref.digest);
  }
  return blobs;
}

async function readVerified(file: string, digest: string, what: string): Promise<Buffer> {
  const bytes = await fs.readFile(file).catch(() => {
    throw new Error(`${what} ${digest} is missing (${file})`);
  });
  if (sha256(bytes) !== digest) throw new Error(`${what} ${digest} has other bytes: ${sha256(bytes)} (${file})`);
  return bytes;
}

/** Reads the image tagged `tag` from an OCI layout, checking every blob file against its digest. */
export async function readOciLayout(layout: string, tag: string): Promise<FoundImage> {
  const index = JSON.parse(await fs.readFile(path.join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string; mediaType: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find((m) => m.annotations?.[REF_NAME] === tag);
  if (!entry) throw new Error(`no manifest tagged ${tag} in ${layout}/index.json`);
  const read: BlobReader = (digest, what) => readVerified(path.join(layout, 'blobs', ...digest.split(':')), digest, what);
  const manifest = await read(entry.digest, 'manifest');
  return { digest: entry.digest, mediaType: entry.mediaType, manifest, blobs: await walk(manifest, entry.mediaType, read, read) };
}

/** Reads a skopeo `dir:` directory, checking every blob file against its digest. */
export async function readDirImage(dir: string): Promise<FoundImage> {
  const manifest = await fs.readFile(path.join(dir, 'manifest.json'));
  const mediaType = (JSON.parse(manifest.toString('utf8')) as ManifestShape).mediaType ?? '';
  const readBlob: BlobReader = (digest, what) => readVerified(path.join(dir, hexOf(digest)), digest, what);
  const readManifest: BlobReader = (digest, what) =>
    readVerified(path.join(dir, `${hexOf(digest)}.manifest.json`), digest, what);
  return { digest: sha256(manifest), mediaType, manifest, blobs: await walk(manifest, mediaType, readBlob, readManifest) };
}

/** The digests a walk of `image` should find, in the same order as FoundImage.blobs. */
export function expectedBlobs(image: TestImage): string[] {
  if (image.children.length === 0) return image.blobs.map((blob) => blob.digest);
  return image.children.flatMap((child) => [child.manifest.digest, ...expectedBlobs(child)]);
}
