// The broken/random tag: `layers-X_size-Y[_seed-Z]`, checked against limits that protect the disk.
import { parseTagParams, type RequiredParam, type OptionalParam } from '../../params/tag-params.js';
import { byteSize, wholeNumber } from '../../params/values.js';
import { formatSize } from '../../params/size.js';

export interface RandomImageParams {
  /** Number of layers, each one gzipped tar. */
  layers: number;
  /** Bytes of random content in each layer's one file. */
  size: number;
  /** Picks the random bytes; the same seed always makes the same image. */
  seed: number;
}

/** The limits serve applies (the same field names as the server's Limits, so those can be passed). */
export interface RandomLimits {
  maxLayers: number;
  maxRandomSize: number;
}

export const DEFAULT_RANDOM_LIMITS: RandomLimits = { maxLayers: 100, maxRandomSize: 1024 ** 3 };

export type RandomTagSpec = {
  readonly layers: RequiredParam<number>;
  readonly size: RequiredParam<number>;
  readonly seed: OptionalParam<number> & { readonly default: number };
};

/** The tag grammar of broken/random under the given limits. */
export function randomTagSpec(limits: RandomLimits = DEFAULT_RANDOM_LIMITS): RandomTagSpec {
  return {
    layers: {
      required: true,
      placeholder: 'X',
      description: `number of layers, 1 to ${limits.maxLayers}`,
      parse: wholeNumber({ min: 1, max: limits.maxLayers }),
    },
    size: {
      required: true,
      placeholder: 'Y',
      description: `bytes of random content per layer: 1024, 512k, 100m, 1g (at most ${formatSize(limits.maxRandomSize)})`,
      parse: byteSize({ max: limits.maxRandomSize, limitName: 'max random size' }),
    },
    seed: {
      placeholder: 'Z',
      description: 'picks the random bytes, a whole number (default 0)',
      parse: wholeNumber(),
      default: 0,
    },
  };
}

/** Parses `layers-X_size-Y[_seed-Z]`; throws ParamError naming the parameter at fault. */
export function parseRandomTag(tag: string, limits: RandomLimits = DEFAULT_RANDOM_LIMITS): RandomImageParams {
  const { layers, size, seed } = parseTagParams(tag, randomTagSpec(limits));
  return { layers, size, seed };
}

/** The canonical tag for params: `layers-3_size-1k_seed-7`, the seed left out when it is 0. */
export function formatRandomTag(params: RandomImageParams): string {
  const seed = params.seed === 0 ? '' : `_seed-${params.seed}`;
  return `layers-${params.layers}_size-${formatSize(params.size)}${seed}`;
}
