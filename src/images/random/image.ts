// broken/random images: X random layers under a Docker v2 schema 2 or OCI manifest, or several such
// images (one per platform, with attestations if asked) under an index, the same bytes for the same
// params everywhere and forever. The caller's sink stores the blobs; the manifests come back as bytes
// for the caller to store: the children by digest first, then the top one under its tag.
import { digestOf } from '../../oci/digest.js';
import type { Descriptor } from '../../oci/descriptor.js';
import { MediaType } from '../../oci/media-types.js';
import { generateAttestation } from './attestation.js';
import { RandomLayerStream } from './layer.js';
import { resolveParams, normalizeParams, type RandomImageParams, type ResolvedParams } from './params.js';
import { DEFAULT_PLATFORM, RANDOM_PLATFORMS, type RandomPlatform } from './platforms.js';

/** Where generated blobs go: the store, a test's memory, a counter. */
export interface BlobSink {
  /**
   * Consumes the stream as one blob and says what was stored. The hint is the size and media type the
   * blob will have, for sinks that care (it is checked afterwards either way).
   */
  writeBlob(stream: AsyncIterable<Uint8Array>, hint: BlobHint): Promise<WrittenBlob>;
}

export interface BlobHint {
  size: number;
  mediaType: string;
}

export interface WrittenBlob {
  digest: string;
  size: number;
}

export interface LayerDescriptor extends Descriptor {
  /** sha256 of the uncompressed tar. */
  diffId: string;
}

/** A manifest exactly as it is to be stored and served. */
export interface GeneratedManifest {
  manifest: Buffer;
  manifestDigest: string;
  mediaType: string;
}

/** One runnable image: its manifest, config and layers. */
export interface PlatformImage extends GeneratedManifest {
  platform: RandomPlatform;
  config: Descriptor;
  layers: LayerDescriptor[];
}

export interface RandomImage extends GeneratedManifest {
  /** The params in normal form (params.ts). */
  params: RandomImageParams;
  /** The images: without an index, the one image, whose manifest is the top manifest itself. */
  images: PlatformImage[];
  /** Attestation manifests, one per image, in image order (attest-1); else empty. */
  attestations: GeneratedManifest[];
  /** The manifests the top one names, to be stored before it: the images then the attestations of an index. */
  children: GeneratedManifest[];
  /** The config and layers of the first image (linux/amd64), the only one without an index. */
  config: Descriptor;
  layers: LayerDescriptor[];
}

/** Every timestamp in a random image: the Unix epoch, so nothing depends on when it was made. */
export const RANDOM_IMAGE_CREATED = '1970-01-01T00:00:00Z';

/** Media types by format. */
export function mediaTypesOf(format: ResolvedParams['format']) {
  return format === 'oci'
    ? { manifest: MediaType.ociManifest, index: MediaType.ociIndex, config: MediaType.ociConfig }
    : { manifest: MediaType.dockerManifest, index: MediaType.dockerManifestList, config: MediaType.dockerConfig };
}

/** The layer media type for a format and compression. */
export function layerMediaType(format: ResolvedParams['format'], compression: ResolvedParams['comp']): string {
  const types = {
    docker: { gzip: MediaType.dockerLayerGzip, zstd: MediaType.dockerLayerZstd, none: MediaType.dockerLayer },
    oci: { gzip: MediaType.ociLayerGzip, zstd: MediaType.ociLayerZstd, none: MediaType.ociLayer },
  } as const;
  return types[format][compression];
}

/** Generates the image: each image's layers then config go to the sink; the manifests come back. */
export async function generateRandomImage(params: RandomImageParams, sink: BlobSink): Promise<RandomImage> {
  const resolved = checkParams(params);
  const normal = normalizeParams(resolved);
  if (resolved.platforms === 0) {
    const image = await generatePlatformImage(resolved, DEFAULT_PLATFORM, sink);
    return { ...topOf(image), params: normal, images: [image], attestations: [], children: [], config: image.config, layers: image.layers };
  }
  const images: PlatformImage[] = [];
  for (const platform of RANDOM_PLATFORMS.slice(0, resolved.platforms)) images.push(await generatePlatformImage(resolved, platform, sink));
  const attestations: GeneratedManifest[] = [];
  if (resolved.attest) for (const image of images) attestations.push(await generateAttestation(resolved, image, sink));
  const mediaType = mediaTypesOf(resolved.format).index;
  const manifest = randomIndexManifest(mediaType, images, attestations);
  const first = images[0] as PlatformImage;
  const children = [...images, ...attestations].map(topOf);
  return { manifest, manifestDigest: digestOf(manifest), mediaType, params: normal, images, attestations, children, config: first.config, layers: first.layers };
}

function topOf(image: GeneratedManifest): GeneratedManifest {
  return { manifest: image.manifest, manifestDigest: image.manifestDigest, mediaType: image.mediaType };
}

/** One platform's image: its layers, then its config, to the sink. */
async function generatePlatformImage(params: ResolvedParams, platform: RandomPlatform, sink: BlobSink): Promise<PlatformImage> {
  const layers: LayerDescriptor[] = [];
  const mediaType = layerMediaType(params.format, params.comp);
  for (let index = 0; index < params.layers; index++) {
    const stream = layerStreamOf(params, index, platform);
    const written = await sink.writeBlob(stream, { size: stream.size, mediaType });
    const made = stream.digests;
    if (!made) throw new Error(`random layer ${index}: the sink did not read the whole blob`);
    if (written.digest !== made.digest || written.size !== made.size) {
      throw new Error(`random layer ${index}: the sink stored ${written.digest} (${written.size} bytes), not ${made.digest} (${made.size} bytes)`);
    }
    layers.push({ mediaType, digest: made.digest, size: made.size, diffId: made.diffId });
  }

  const types = mediaTypesOf(params.format);
  const configBytes = randomImageConfig(params, layers.map((layer) => layer.diffId), platform);
  const config = await writeBytes(sink, configBytes, types.config, 'random image config');
  const manifest = imageManifest(types.manifest, config, layers);
  return { manifest, manifestDigest: digestOf(manifest), mediaType: types.manifest, platform, config, layers };
}

/** The image config: the platform, the diff_ids in layer order, one history entry per layer. */
export function randomImageConfig(
  params: { layers: number; size: number; seed: number; files?: number },
  diffIds: readonly string[],
  platform: RandomPlatform = DEFAULT_PLATFORM,
): Buffer {
  const { layers, size, seed, files = 1 } = params;
  const content = files === 1 ? `${size} random bytes` : `${size} random bytes in ${files} files`;
  // Keys in alphabetical order, as they always were; variant only where the platform has one.
  const config = {
    architecture: platform.architecture,
    config: {},
    created: RANDOM_IMAGE_CREATED,
    history: diffIds.map((_, index) => ({
      created: RANDOM_IMAGE_CREATED,
      created_by: `broken-reg random layer ${index + 1} of ${layers}: ${content}, seed ${seed}`,
    })),
    os: platform.os,
    rootfs: { type: 'layers', diff_ids: diffIds },
    ...(platform.variant ? { variant: platform.variant } : {}),
  };
  return Buffer.from(JSON.stringify(config), 'utf8');
}

/** The Docker v2 schema 2 manifest naming the config and layers. */
export function randomImageManifest(config: Descriptor, layers: readonly Descriptor[]): Buffer {
  return imageManifest(MediaType.dockerManifest, config, layers);
}

/** An image manifest (Docker v2 schema 2 or OCI: the same shape) naming the config and layers. */
export function imageManifest(mediaType: string, config: Descriptor, layers: readonly Descriptor[]): Buffer {
  const manifest = { schemaVersion: 2, mediaType, config: descriptor(config), layers: layers.map(descriptor) };
  return Buffer.from(JSON.stringify(manifest), 'utf8');
}

/** The index (OCI) or manifest list (Docker): the images with their platforms, then the attestations. */
export function randomIndexManifest(mediaType: string, images: readonly PlatformImage[], attestations: readonly GeneratedManifest[]): Buffer {
  const platformOf = ({ architecture, os, variant }: RandomPlatform) => ({ architecture, os, ...(variant ? { variant } : {}) });
  const manifests: object[] = images.map((image) => ({ ...manifestDescriptor(image), platform: platformOf(image.platform) }));
  attestations.forEach((attestation, i) => {
    const image = images[i] as PlatformImage;
    manifests.push({
      ...manifestDescriptor(attestation),
      annotations: { 'vnd.docker.reference.digest': image.manifestDigest, 'vnd.docker.reference.type': 'attestation-manifest' },
      platform: { architecture: 'unknown', os: 'unknown' },
    });
  });
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests }), 'utf8');
}

/** Layer `index` of the (linux/amd64, or the given platform's) image by itself, e.g. to serve a blob again. */
export function layerStream(params: RandomImageParams, index: number, platform: RandomPlatform = DEFAULT_PLATFORM): RandomLayerStream {
  const resolved = checkParams(params);
  if (!Number.isSafeInteger(index) || index < 0 || index >= resolved.layers) {
    throw new RangeError(`random image has layers 0 to ${resolved.layers - 1}, not ${index}`);
  }
  return layerStreamOf(resolved, index, platform);
}

function layerStreamOf(params: ResolvedParams, index: number, platform: RandomPlatform): RandomLayerStream {
  return new RandomLayerStream({ size: params.size, seed: params.seed, index, files: params.files, compression: params.comp, platform: platform.name });
}

/** Writes bytes as one blob and checks the sink stored exactly them. */
export async function writeBytes(sink: BlobSink, bytes: Buffer, mediaType: string, what: string): Promise<Descriptor> {
  const described: Descriptor = { mediaType, digest: digestOf(bytes), size: bytes.length };
  const written = await sink.writeBlob(once(bytes), { size: described.size, mediaType });
  if (written.digest !== described.digest) throw new Error(`${what}: the sink stored ${written.digest}, not ${described.digest}`);
  return described;
}

export function manifestDescriptor(manifest: GeneratedManifest): Descriptor {
  return { mediaType: manifest.mediaType, size: manifest.manifest.length, digest: manifest.manifestDigest };
}

/** The descriptor's fields in the order every manifest here writes them. */
function descriptor(d: Descriptor): Descriptor {
  return { mediaType: d.mediaType, size: d.size, digest: d.digest, ...(d.annotations ? { annotations: d.annotations } : {}) };
}

function checkParams(params: RandomImageParams): ResolvedParams {
  const resolved = resolveParams(params);
  for (const key of ['layers', 'size', 'seed', 'files', 'platforms'] as const) {
    const value = resolved[key];
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`random image: ${key} must be a whole number, got ${value}`);
  }
  if (resolved.files < 1) throw new RangeError('random image: files must be at least 1');
  if (resolved.platforms > RANDOM_PLATFORMS.length) throw new RangeError(`random image: at most ${RANDOM_PLATFORMS.length} platforms`);
  return resolved;
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
