// broken/random:layers-X_size-Y[_seed-Z][_format-F]...: a generated image, the same for the same tag everywhere.
// Generated on first request (once per image, however many clients ask at once), stored, and served
// from the store from then on.
import { RegistryError } from '../oci/errors.js';
import { ParamError, describeTagSpec } from '../params/tag-params.js';
import { parseRandomTag, randomTagSpec, formatRandomTag, RANDOM_PARAM_EXAMPLES } from '../images/random/index.js';
import { materializeRandomImage, RANDOM_REPOSITORY, type MaterializedImage } from '../images/random-store.js';
import { manifestReader } from '../registry/manifests.js';
import { getBlob } from '../registry/blobs.js';
import { listTags } from '../registry/discovery.js';
import { storeSource, type ContentSource } from '../registry/content.js';
import type { Scenario } from './scenario.js';

export function createRandomScenario(): Scenario {
  /** Generations in progress, by canonical tag: later requests wait for the first. */
  const inFlight = new Map<string, Promise<MaterializedImage>>();

  /** By tag, the image the tag describes, generated into the store first if it is not there. */
  const source: ContentSource = {
    async manifest(ctx, reference) {
      const { tag } = reference;
      if (tag === undefined) return storeSource.manifest(ctx, reference);
      const params = paramsOf(tag, ctx.deps.config.limits);
      const key = formatRandomTag(params);
      let generation = inFlight.get(key);
      if (!generation) {
        generation = materializeRandomImage(ctx.deps.store, params, key).finally(() => inFlight.delete(key));
        inFlight.set(key, generation);
      }
      const image = await generation;
      return tag === key ? image.manifest : (await materializeRandomImage(ctx.deps.store, params, tag)).manifest;
    },
    blob: storeSource.blob,
  };
  const manifest = manifestReader(source);

  return {
    name: 'random',
    summary: 'A generated image of X layers of Y random bytes each (Docker or OCI, one platform or an index), the same digests for the same tag.',
    example: 'broken/random:layers-3_size-1024',
    parameters: Object.entries(randomTagSpec()).map(([key, param]) => ({
      name: key,
      description: param.description ?? '',
      example: RANDOM_PARAM_EXAMPLES[key as keyof typeof RANDOM_PARAM_EXAMPLES],
    })),
    nested: false,
    operations: {
      'manifest.get': manifest,
      'manifest.head': manifest,
      'blob.get': getBlob,
      'blob.head': getBlob,
      'tags.list': listTags,
    },
  };
}

function paramsOf(tag: string, limits: { maxLayers: number; maxRandomSize: number }) {
  try {
    return parseRandomTag(tag, limits);
  } catch (error) {
    if (!(error instanceof ParamError)) throw error;
    throw new RegistryError('MANIFEST_INVALID', `${RANDOM_REPOSITORY}: ${error.message}`, {
      detail: { tag, parameter: error.param, grammar: describeTagSpec(randomTagSpec(limits)) },
    });
  }
}
