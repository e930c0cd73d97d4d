// The public face of the random image generator: broken/random:layers-X_size-Y[_seed-Z].
export {
  generateRandomImage,
  layerStream,
  randomImageConfig,
  randomImageManifest,
  RANDOM_IMAGE_CREATED,
  type BlobHint,
  type BlobSink,
  type Descriptor,
  type LayerDescriptor,
  type RandomImage,
  type WrittenBlob,
} from './image.js';
export {
  DEFAULT_RANDOM_LIMITS,
  formatRandomTag,
  parseRandomTag,
  randomTagSpec,
  type RandomImageParams,
  type RandomLimits,
} from './params.js';
export { layerBlobSize, layerFileName, MAX_CHUNK_BYTES, RandomLayerStream, type LayerDigests, type LayerParams } from './layer.js';
export { MemoryBlobSink } from './memory-sink.js';
