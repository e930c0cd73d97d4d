// The parts malformed images are made of: descriptors, layers, configs, manifests and indexes, each a
// pure function of its inputs. A kind (kinds.ts) builds a correct image from these and breaks one part.
import { digestOf, parseDigest, type Digest } from '../../oci/digest.js';
import type { Descriptor, Platform } from '../../oci/descriptor.js';
import { MediaType } from '../../oci/media-types.js';
import { gzipStored } from './compress.js';
import { dir, file, tarArchive, type TarEntry } from './tar.js';

/** A manifest as served: its digest (what Docker-Content-Digest says), media type and bytes. */
export interface MalformedManifest {
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
}

/** A blob as served: the bytes answered for the digest, whether or not they hash to it. */
export interface ServedBlob {
  digest: string;
  bytes: Buffer;
}

/** One kind's image: the manifest its tag answers and everything the registry serves for it. */
export interface MalformedImage {
  root: MalformedManifest;
  /** Every manifest served by digest, the root included. */
  manifests: MalformedManifest[];
  blobs: ServedBlob[];
}

export const LINUX_AMD64: Platform = { architecture: 'amd64', os: 'linux' };
export const LINUX_ARM64: Platform = { architecture: 'arm64', os: 'linux', variant: 'v8' };
const EPOCH = '1970-01-01T00:00:00Z';
/** The label every config carries, so no two kinds share a config blob. */
export const KIND_LABEL = 'org.broken-reg.malformed';

export function descriptor(mediaType: string, bytes: Uint8Array, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: digestOf(bytes), size: bytes.length, ...extra };
}

export function served(bytes: Buffer, digest = digestOf(bytes)): ServedBlob {
  return { digest, bytes };
}

export function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

export function manifestOf(mediaType: string, bytes: Buffer, digest = digestOf(bytes)): MalformedManifest {
  const parsed = parseDigest(digest);
  if (!parsed) throw new Error(`not a digest: ${digest}`);
  return { digest: parsed, mediaType, bytes };
}

/** The entries of a layer that holds nothing odd: a directory and a file naming the kind. */
export function plainEntries(kind: string, name = 'kind'): TarEntry[] {
  return [dir('malformed/'), file(`malformed/${name}`, `broken-reg malformed image: ${kind}\n`)];
}

export interface Layer {
  tar: Buffer;
  blob: Buffer;
  /** sha256 of the tar, as the config lists it. */
  diffId: string;
}

/** A gzip layer of a tar (stored deflate blocks: the same bytes on every machine). */
export function gzipLayer(tar: Buffer): Layer {
  return { tar, blob: gzipStored(tar), diffId: digestOf(tar) };
}

/** A layer of the given entries. */
export function layerOf(entries: readonly TarEntry[]): Layer {
  return gzipLayer(tarArchive(entries));
}

/** An image config: the platform, the layers' diff_ids, a label naming the kind, timestamps at the epoch. */
export function imageConfig(kind: string, diffIds: readonly string[], platform: Platform = LINUX_AMD64): Buffer {
  return json({
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    created: EPOCH,
    config: { Labels: { [KIND_LABEL]: kind } },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: diffIds.map(() => ({ created: EPOCH, created_by: `broken-reg malformed ${kind}` })),
  });
}

export type Format = 'docker' | 'oci';

const TYPES = {
  docker: { manifest: MediaType.dockerManifest, config: MediaType.dockerConfig, layer: MediaType.dockerLayerGzip },
  oci: { manifest: MediaType.ociManifest, config: MediaType.ociConfig, layer: MediaType.ociLayerGzip },
} as const;

export function layerType(format: Format): string {
  return TYPES[format].layer;
}

export function configType(format: Format): string {
  return TYPES[format].config;
}

/** An image manifest (Docker v2 schema 2 or OCI) of a config and layers. */
export function imageManifest(format: Format, config: Descriptor, layers: readonly Descriptor[], annotations?: Record<string, string>): MalformedManifest {
  const mediaType = TYPES[format].manifest;
  return manifestOf(mediaType, json({ schemaVersion: 2, mediaType, config, layers, ...(annotations ? { annotations } : {}) }));
}

/** An OCI index of the given entries. */
export function ociIndex(manifests: readonly Descriptor[]): MalformedManifest {
  return manifestOf(MediaType.ociIndex, json({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }));
}

/** The descriptor of a manifest, for an index entry. */
export function manifestDescriptor(manifest: MalformedManifest, platform?: Platform): Descriptor {
  return { mediaType: manifest.mediaType, digest: manifest.digest.text, size: manifest.bytes.length, ...(platform ? { platform } : {}) };
}

export interface ImageParts {
  kind: string;
  format?: Format;
  platform?: Platform;
  layers: readonly Layer[];
}

/** A correct image of the given layers: its manifest, and its config and layer blobs, all served. */
export function correctImage({ kind, format = 'docker', platform, layers }: ImageParts): MalformedImage & { config: Buffer } {
  const config = imageConfig(kind, layers.map((layer) => layer.diffId), platform);
  const manifest = imageManifest(
    format,
    descriptor(configType(format), config),
    layers.map((layer) => descriptor(layerType(format), layer.blob)),
  );
  return { root: manifest, manifests: [manifest], blobs: [served(config), ...layers.map((layer) => served(layer.blob))], config };
}
