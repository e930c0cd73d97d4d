// Reads the descriptors out of a stored manifest, whatever it is: OCI or Docker, image or index,
// artifact, or Docker schema 1. Anything unreadable is simply "other" with no references.
import { isObject } from '../oci/digest.js';
import { INDEX_TYPES } from '../oci/media-types.js';
import type { Platform } from './model.js';

/** A descriptor as a manifest states it; size null when the format does not give one (schema 1). */
export interface Reference {
  digest: string;
  mediaType: string | null;
  size: number | null;
  platform: Platform | null;
  /**
   * For a buildx attestation manifest in an index (annotation `vnd.docker.reference.type:
   * attestation-manifest`), the digest of the image it describes (`vnd.docker.reference.digest`).
   */
  attestationOf?: string;
}

export interface ParsedManifest {
  kind: 'index' | 'image' | 'other';
  /** An index's children. */
  manifests: Reference[];
  config: Reference | null;
  /** Layers, plus the `blobs` of artifact manifests and the `fsLayers` of schema 1. */
  layers: Reference[];
  subject: string | null;
}

function other(subject: string | null = null): ParsedManifest {
  return { kind: 'other', manifests: [], config: null, layers: [], subject };
}

export function parseManifest(bytes: Buffer, mediaType: string | null): ParsedManifest {
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return other();
  }
  if (!isObject(parsed)) return other();
  const subject = isObject(parsed.subject) && typeof parsed.subject.digest === 'string' ? parsed.subject.digest : null;
  if ((mediaType !== null && INDEX_TYPES.has(mediaType)) || Array.isArray(parsed.manifests)) {
    return { ...other(subject), kind: 'index', manifests: references(parsed.manifests) };
  }
  const config = reference(parsed.config);
  const layers = [...references(parsed.layers), ...references(parsed.blobs), ...schema1Layers(parsed.fsLayers)];
  if (config === null && layers.length === 0 && !Array.isArray(parsed.layers)) return other(subject);
  return { kind: 'image', manifests: [], config, layers, subject };
}

/** `os/architecture[/variant]`, as docker and crane print platforms. */
export function platformText(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

function references(value: unknown): Reference[] {
  if (!Array.isArray(value)) return [];
  return value.map(reference).filter((item): item is Reference => item !== null);
}

function reference(value: unknown): Reference | null {
  if (!isObject(value) || typeof value.digest !== 'string') return null;
  return {
    digest: value.digest,
    mediaType: typeof value.mediaType === 'string' ? value.mediaType : null,
    size: typeof value.size === 'number' && Number.isSafeInteger(value.size) && value.size >= 0 ? value.size : null,
    platform: platform(value.platform),
    ...attestation(value.annotations),
  };
}

function attestation(annotations: unknown): { attestationOf?: string } {
  if (!isObject(annotations) || annotations['vnd.docker.reference.type'] !== 'attestation-manifest') return {};
  const digest = annotations['vnd.docker.reference.digest'];
  return typeof digest === 'string' ? { attestationOf: digest } : {};
}

function platform(value: unknown): Platform | null {
  if (!isObject(value) || typeof value.os !== 'string' || typeof value.architecture !== 'string') return null;
  return { os: value.os, architecture: value.architecture, variant: typeof value.variant === 'string' ? value.variant : null };
}

/** Docker schema 1 lists layers as `{"blobSum": digest}`, newest first and without sizes. */
function schema1Layers(value: unknown): Reference[] {
  if (!Array.isArray(value)) return [];
  return value
    .filter((item): item is { blobSum: string } => isObject(item) && typeof item.blobSum === 'string')
    .map((item) => ({ digest: item.blobSum, mediaType: null, size: null, platform: null }));
}

