// The broken/random tag: `layers-X_size-Y[_seed-Z][_format-F][_platforms-N][_comp-C][_files-N][_attest-1]`,
// checked against limits that protect the disk.
//
// Params come in a normal form: the keys that have a default are present only when they differ from it,
// so `{ layers: 1, size: 1024, seed: 0 }` is today's image exactly as before these keys existed, and
// two spellings of one image normalize (and format, and hash) the same.
import { parseTagParams, type RequiredParam, type OptionalParam } from '../../params/tag-params.js';
import { byteSize, wholeNumber } from '../../params/values.js';
import { formatSize } from '../../params/size.js';
import { ParamError } from '../../params/tag-params.js';
import { RANDOM_PLATFORMS } from './platforms.js';

export type ImageFormat = 'docker' | 'oci';
export type Compression = 'gzip' | 'zstd' | 'none';

export const FORMATS: readonly ImageFormat[] = ['docker', 'oci'];
export const COMPRESSIONS: readonly Compression[] = ['gzip', 'zstd', 'none'];
/** Most files one layer may hold: each costs a 512-byte tar header and up to 511 bytes of padding. */
export const MAX_FILES = 10_000;

export interface RandomImageParams {
  /** Number of layers of each image, each one tar. */
  layers: number;
  /** Bytes of random content in each layer, split over its files. */
  size: number;
  /** Picks the random bytes; the same seed always makes the same image. */
  seed: number;
  /** Media types: Docker v2 schema 2 (the default) or OCI. */
  format?: ImageFormat;
  /** An index of the first N platforms of RANDOM_PLATFORMS; absent: one image manifest, no index. */
  platforms?: number;
  /** Layer compression: gzip (the default), zstd or none. */
  comp?: Compression;
  /** Files per layer (default 1). */
  files?: number;
  /** A buildx-style attestation manifest per image in the index. */
  attest?: boolean;
}

/** The params with every default filled in, as the generator uses them. */
export interface ResolvedParams {
  layers: number;
  size: number;
  seed: number;
  format: ImageFormat;
  /** 0: one image manifest; else the number of images in the index. */
  platforms: number;
  comp: Compression;
  files: number;
  attest: boolean;
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
  readonly format: OptionalParam<ImageFormat>;
  readonly platforms: OptionalParam<number>;
  readonly comp: OptionalParam<Compression>;
  readonly files: OptionalParam<number>;
  readonly attest: OptionalParam<number>;
};

/** One example per key, for --help, the README and the scenario's metadata. */
export const RANDOM_PARAM_EXAMPLES: { readonly [K in keyof RandomTagSpec]: string } = {
  layers: 'layers-3',
  size: 'size-100m',
  seed: 'seed-7',
  format: 'format-oci',
  platforms: 'platforms-2',
  comp: 'comp-zstd',
  files: 'files-100',
  attest: 'attest-1',
};

/** The tag grammar of broken/random under the given limits. */
export function randomTagSpec(limits: RandomLimits = DEFAULT_RANDOM_LIMITS): RandomTagSpec {
  const platformNames = RANDOM_PLATFORMS.map((platform) => platform.name).join(', ');
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
    format: {
      placeholder: 'docker|oci',
      description: 'media types of manifests, config and layers: docker (Docker v2 schema 2, the default) or oci',
      parse: oneOf(FORMATS),
    },
    platforms: {
      placeholder: 'N',
      description: `an index (OCI) or manifest list (Docker) of N images (1 to ${RANDOM_PLATFORMS.length}), the first N of ${platformNames}; without it, one linux/amd64 image`,
      parse: wholeNumber({ min: 1, max: RANDOM_PLATFORMS.length }),
    },
    comp: {
      placeholder: 'gzip|zstd|none',
      description: 'layer compression: gzip (the default), zstd or none (plain tar)',
      parse: oneOf(COMPRESSIONS),
    },
    files: {
      placeholder: 'N',
      description: `files per layer, 1 to ${MAX_FILES} (default 1); the layer's bytes are split over them`,
      parse: wholeNumber({ min: 1, max: MAX_FILES }),
    },
    attest: {
      placeholder: '0|1',
      description: '1: a buildx-style attestation manifest (platform unknown/unknown, an in-toto layer) per image; implies an index and format-oci',
      parse: wholeNumber({ min: 0, max: 1 }),
    },
  };
}

/** Parses the tag into normal-form params; throws ParamError naming the parameter at fault. */
export function parseRandomTag(tag: string, limits: RandomLimits = DEFAULT_RANDOM_LIMITS): RandomImageParams {
  const parsed = parseTagParams(tag, randomTagSpec(limits));
  // Attestations come with OCI media types, as buildkit forces them ("forcibly turning on
  // oci-mediatype mode for attestations"), and live in an index.
  if (parsed.attest === 1 && parsed.format === 'docker') {
    throw new ParamError('attest', 'invalid', 'attest-1 makes an OCI index (as buildx does): it cannot be combined with format-docker');
  }
  return normalizeParams({
    layers: parsed.layers,
    size: parsed.size,
    seed: parsed.seed,
    format: parsed.format ?? 'docker',
    platforms: parsed.platforms ?? 0,
    comp: parsed.comp ?? 'gzip',
    files: parsed.files ?? 1,
    attest: parsed.attest === 1,
  });
}

/** Every default filled in, and what attest implies (an index, OCI media types). */
export function resolveParams(params: RandomImageParams): ResolvedParams {
  const attest = params.attest === true;
  return {
    layers: params.layers,
    size: params.size,
    seed: params.seed,
    format: attest ? 'oci' : (params.format ?? 'docker'),
    platforms: params.platforms ?? (attest ? 1 : 0),
    comp: params.comp ?? 'gzip',
    files: params.files ?? 1,
    attest,
  };
}

/** The normal form of resolved params: defaults left out, what attest implies written out. */
export function normalizeParams(resolved: ResolvedParams): RandomImageParams {
  const params: RandomImageParams = { layers: resolved.layers, size: resolved.size, seed: resolved.seed };
  if (resolved.format === 'oci' || resolved.attest) params.format = 'oci';
  if (resolved.platforms > 0 || resolved.attest) params.platforms = Math.max(1, resolved.platforms);
  if (resolved.comp !== 'gzip') params.comp = resolved.comp;
  if (resolved.files !== 1) params.files = resolved.files;
  if (resolved.attest) params.attest = true;
  return params;
}

/**
 * The canonical tag: `layers-3_size-1k_seed-7`, then the other keys in grammar order, each left out
 * when it has its default (so the tags of images made before these keys existed are unchanged).
 */
export function formatRandomTag(params: RandomImageParams): string {
  const p = resolveParams(params);
  const parts = [`layers-${p.layers}`, `size-${formatSize(p.size)}`];
  if (p.seed !== 0) parts.push(`seed-${p.seed}`);
  if (p.format !== 'docker') parts.push(`format-${p.format}`);
  if (p.platforms > 0) parts.push(`platforms-${p.platforms}`);
  if (p.comp !== 'gzip') parts.push(`comp-${p.comp}`);
  if (p.files !== 1) parts.push(`files-${p.files}`);
  if (p.attest) parts.push('attest-1');
  return parts.join('_');
}

function oneOf<T extends string>(values: readonly T[]): (text: string) => T {
  return (text) => {
    const found = values.find((value) => value === text);
    if (found === undefined) throw new Error(`${JSON.stringify(text)} is not one of ${values.join(', ')}`);
    return found;
  };
}
