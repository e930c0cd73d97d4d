// broken/random images: Docker v2 schema 2 manifests over X random layers, the same bytes for the same
// (layers, size, seed) everywhere and forever. The caller's sink stores the blobs; the manifest comes
// back as bytes for the caller to store under its tag.
import { createHash } from 'node:crypto';
import { MediaType } from '../../oci/media-types.js';
import { RandomLayerStream } from './layer.js';
import type { RandomImageParams } from './params.js';

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

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface LayerDescriptor extends Descriptor {
  /** sha256 of the uncompressed tar. */
  diffId: string;
}

export interface RandomImage {
  params: RandomImageParams;
  /** The manifest exactly as it is to be stored and served. */
  manifest: Buffer;
  manifestDigest: string;
  mediaType: typeof MediaType.dockerManifest;
  config: Descriptor;
  layers: LayerDescriptor[];
}

/** Every timestamp in a random image: the Unix epoch, so nothing depends on when it was made. */
export const RANDOM_IMAGE_CREATED = '1970-01-01T00:00:00Z';

/** Generates the image: writes each layer, then the config, to the sink, and returns the manifest. */
export async function generateRandomImage(params: RandomImageParams, sink: BlobSink): Promise<RandomImage> {
  checkParams(params);
  const layers: LayerDescriptor[] = [];
  for (let index = 0; index < params.layers; index++) {
    const stream = new RandomLayerStream({ size: params.size, seed: params.seed, index });
    const mediaType = MediaType.dockerLayerGzip;
    const written = await sink.writeBlob(stream, { size: stream.size, mediaType });
    const made = stream.digests;
    if (!made) throw new Error(`random layer ${index}: the sink did not read the whole blob`);
    if (written.digest !== made.digest || written.size !== made.size) {
      throw new Error(`random layer ${index}: the sink stored ${written.digest} (${written.size} bytes), not ${made.digest} (${made.size} bytes)`);
    }
    layers.push({ mediaType, digest: made.digest, size: made.size, diffId: made.diffId });
  }

  const configBytes = randomImageConfig(params, layers.map((layer) => layer.diffId));
  const config: Descriptor = { mediaType: MediaType.dockerConfig, digest: sha256(configBytes), size: configBytes.length };
  const written = await sink.writeBlob(once(configBytes), { size: config.size, mediaType: config.mediaType });
  if (written.digest !== config.digest) throw new Error(`random image config: the sink stored ${written.digest}, not ${config.digest}`);

  const manifest = randomImageManifest(config, layers);
  return { params: { ...params }, manifest, manifestDigest: sha256(manifest), mediaType: MediaType.dockerManifest, config, layers };
}

/** The image config: amd64/linux, the diff_ids in layer order, one history entry per layer. */
export function randomImageConfig(params: RandomImageParams, diffIds: readonly string[]): Buffer {
  const config = {
    architecture: 'amd64',
    config: {},
    created: RANDOM_IMAGE_CREATED,
    history: diffIds.map((_, index) => ({
      created: RANDOM_IMAGE_CREATED,
      created_by: `broken-reg random layer ${index + 1} of ${params.layers}: ${params.size} random bytes, seed ${params.seed}`,
    })),
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
  return Buffer.from(JSON.stringify(config), 'utf8');
}

/** The Docker v2 schema 2 manifest naming the config and layers. */
export function randomImageManifest(config: Descriptor, layers: readonly Descriptor[]): Buffer {
  const descriptor = (d: Descriptor) => ({ mediaType: d.mediaType, size: d.size, digest: d.digest });
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: descriptor(config),
    layers: layers.map(descriptor),
  };
  return Buffer.from(JSON.stringify(manifest), 'utf8');
}

/** Layer `index` of the image by itself, e.g. to serve a blob again without the rest. */
export function layerStream(params: RandomImageParams, index: number): RandomLayerStream {
  checkParams(params);
  if (!Number.isSafeInteger(index) || index < 0 || index >= params.layers) {
    throw new RangeError(`random image has layers 0 to ${params.layers - 1}, not ${index}`);
  }
  return new RandomLayerStream({ size: params.size, seed: params.seed, index });
}

function checkParams(params: RandomImageParams): void {
  for (const key of ['layers', 'size', 'seed'] as const) {
    const value = params[key];
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`random image: ${key} must be a whole number, got ${value}`);
  }
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
