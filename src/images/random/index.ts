// The public face of the random image generator: broken/random:layers-X_size-Y[_seed-Z][_format-...]...
export {
  generateRandomImage,
  imageManifest,
  layerMediaType,
  layerStream,
  mediaTypesOf,
  randomImageConfig,
  randomImageManifest,
  randomIndexManifest,
  RANDOM_IMAGE_CREATED,
  type BlobHint,
  type BlobSink,
  type GeneratedManifest,
  type LayerDescriptor,
  type PlatformImage,
  type RandomImage,
  type WrittenBlob,
} from './image.js';
export { IN_TOTO_MEDIA_TYPE, PROVENANCE_PREDICATE } from './attestation.js';
export {
  COMPRESSIONS,
  DEFAULT_RANDOM_LIMITS,
  FORMATS,
  formatRandomTag,
  MAX_FILES,
  normalizeParams,
  parseRandomTag,
  RANDOM_PARAM_EXAMPLES,
  randomTagSpec,
  resolveParams,
  type Compression,
  type ImageFormat,
  type RandomImageParams,
  type RandomLimits,
  type ResolvedParams,
} from './params.js';
export { ATTESTATION_PLATFORM, DEFAULT_PLATFORM, RANDOM_PLATFORMS, type RandomPlatform } from './platforms.js';
export { layerBlobSize, layerFileName, MAX_CHUNK_BYTES, RandomLayerStream, type LayerDigests, type LayerParams } from './layer.js';
export { MemoryBlobSink } from './memory-sink.js';
