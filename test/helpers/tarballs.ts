// Image tarballs built in memory for the prepare tests: OCI image-layout tars (one image, a
// two-platform index listed directly in index.json, or a nested index), docker save tars (legacy
// <id>/layer.tar with a symlinked shared layer, or Docker 25's blobs/sha256 paths), and damaged
// variants of them. Everything is deterministic: the same bytes on every run.
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { allBlobs, MEDIA, packedBytes, sha256, type Blob, type TestImage } from './images.js';

export interface TarEntry {
  name: string;
  content?: Buffer | string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  linkname?: string;
}

const EPOCH = new Date('2024-01-01T00:00:00Z');
const REF_NAME = 'org.opencontainers.image.ref.name';

/** A tar of the entries, in the order given. */
export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const done = packedBytes(pack);
  for (const entry of entries) {
    const common = { name: entry.name, mtime: EPOCH, uid: 0, gid: 0, mode: entry.type === 'directory' ? 0o755 : 0o644 };
    if (entry.type === 'directory') pack.entry({ ...common, type: 'directory' });
    else if (entry.type === 'symlink' || entry.type === 'link') pack.entry({ ...common, type: entry.type, linkname: entry.linkname ?? '' });
    else {
      const content = Buffer.from(entry.content ?? '');
      pack.entry({ ...common, type: 'file', size: content.length }, content);
    }
  }
  pack.finalize();
  return done;
}

export function blobEntry(blob: Blob): TarEntry {
  return { name: `blobs/sha256/${blob.digest.slice('sha256:'.length)}`, content: blob.bytes };
}

function descriptorOf(blob: Blob, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mediaType: blob.mediaType, digest: blob.digest, size: blob.size, ...extra };
}

export interface LayoutTar {
  tar: Buffer;
  /** index.json as written: with several manifests, its digest is what the tag must pull. */
  indexJson: Buffer;
  entries: TarEntry[];
}

/**
 * An OCI layout tar of the images. `refNames` adds org.opencontainers.image.ref.name annotations
 * (each image's tag); `metadataFirst` puts oci-layout and index.json before the blobs (the default
 * is after, as a streaming writer that learns the index last would do).
 */
export async function ociLayoutTar(images: TestImage[], options: { refNames?: boolean; metadataFirst?: boolean } = {}): Promise<LayoutTar> {
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA.ociIndex,
    manifests: images.map((image) =>
      descriptorOf(image.manifest, {
        ...(image.platform && image.children.length === 0 ? { platform: image.platform } : {}),
        ...(options.refNames ? { annotations: { [REF_NAME]: image.tag } } : {}),
      }),
    ),
  };
  const indexJson = Buffer.from(JSON.stringify(index));
  const seen = new Set<string>();
  const blobs = images.flatMap(allBlobs).filter((blob) => !seen.has(blob.digest) && seen.add(blob.digest));
  const metadata: TarEntry[] = [
    { name: 'oci-layout', content: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', content: indexJson },
  ];
  const body: TarEntry[] = [{ name: 'blobs/', type: 'directory' }, { name: 'blobs/sha256/', type: 'directory' }, ...blobs.map(blobEntry)];
  const entries = options.metadataFirst ? [...metadata, ...body] : [...body, ...metadata];
  return { tar: await tarOf(entries), indexJson, entries };
}

/** A nested index: one OCI index (tagged `tag` by ref.name) whose only child is another index. */
export function nestedIndex(inner: TestImage, tag: string): TestImage {
  const outer = { schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests: [descriptorOf(inner.manifest)] };
  const bytes = Buffer.from(JSON.stringify(outer));
  const manifest: Blob = { digest: sha256(bytes), size: bytes.length, mediaType: MEDIA.ociIndex, bytes };
  return { tag, manifest, blobs: [...allBlobs(inner)], children: [], platform: undefined };
}

// ---- docker save ------------------------------------------------------------------------------

export interface SavedImage {
  repoTags: string[];
  config: Buffer;
  /** Uncompressed layer tars, as docker save writes them. */
  layers: Buffer[];
}

/** A docker-save image from an in-memory test image: its config, its layers gunzipped. */
export function savedFrom(image: TestImage, repoTags: string[]): SavedImage {
  const [config, ...layers] = image.blobs;
  if (!config) throw new Error('image without a config');
  return { repoTags, config: config.bytes, layers: layers.map((layer) => gunzipSync(layer.bytes)) };
}

/** An uncompressed layer tar holding the files. */
export function layerTar(files: Record<string, string>): Promise<Buffer> {
  return tarOf(Object.entries(files).map(([name, content]) => ({ name, content })));
}

/** A docker-save image of the given uncompressed layers, with a config naming their diff_ids. */
export function savedImage(repoTags: string[], layers: Buffer[]): SavedImage {
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      created: EPOCH.toISOString(),
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: layers.map((layer) => sha256(layer)) },
    }),
  );
  return { repoTags, config, layers };
}

function hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * A docker save tar. `legacy`: <config-hex>.json, <layer-id>/layer.tar with VERSION and json beside
 * it, a layer shared by two images written once and symlinked, and a `repositories` file. `blobs`:
 * Docker 25's blobs/sha256/<hex> paths (manifest.json only, no index.json).
 */
export async function dockerSaveTar(images: SavedImage[], style: 'legacy' | 'blobs' = 'legacy'): Promise<Buffer> {
  const entries: TarEntry[] = [];
  const written = new Map<string, string>();
  const manifest = images.map((image) => {
    const configHex = hex(image.config);
    const configPath = style === 'legacy' ? `${configHex}.json` : `blobs/sha256/${configHex}`;
    if (!written.has(configPath)) entries.push({ name: configPath, content: image.config });
    written.set(configPath, configPath);
    const layers = image.layers.map((layer, i) => {
      const digest = hex(layer);
      if (style === 'blobs') {
        const name = `blobs/sha256/${digest}`;
        if (!written.has(name)) entries.push({ name, content: layer });
        written.set(name, name);
        return name;
      }
      const id = hex(Buffer.from(`${configHex}:${i}`));
      const name = `${id}/layer.tar`;
      const first = written.get(digest);
      entries.push({ name: `${id}/`, type: 'directory' }, { name: `${id}/VERSION`, content: '1.0' }, { name: `${id}/json`, content: '{}' });
      if (first) entries.push({ name, type: 'symlink', linkname: `../${first}` });
      else entries.push({ name, content: layer });
      if (!first) written.set(digest, name);
      return name;
    });
    return { Config: configPath, RepoTags: image.repoTags, Layers: layers };
  });
  entries.push({ name: 'manifest.json', content: JSON.stringify(manifest) });
  if (style === 'legacy') entries.push({ name: 'repositories', content: '{}' });
  return tarOf(entries);
}
