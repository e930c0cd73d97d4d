// The whole corpus, as a registry serves it: each kind's root manifest by tag, and every manifest and
// blob by digest. Blob URLs carry no tag, so the digests of all kinds share one namespace; building
// checks that no digest is served with two different contents.
import { MALFORMED_KINDS } from './kinds.js';
import type { MalformedImage, MalformedManifest, ServedBlob } from './image.js';

export interface MalformedCorpus {
  /** The image of a kind, or undefined for a name that is not one. */
  image(kind: string): MalformedImage | undefined;
  manifest(digest: string): MalformedManifest | undefined;
  blob(digest: string): ServedBlob | undefined;
}

/**
 * The corpus, built on first use and kept: the images are a few KiB each, except manifest-huge's
 * 4 MiB manifest, which is why it is built once and not per request.
 */
export function createMalformedCorpus(): MalformedCorpus {
  let built: ReturnType<typeof buildAll> | undefined;
  const all = () => (built ??= buildAll());
  return {
    image: (kind) => all().images.get(kind),
    manifest: (digest) => all().manifests.get(digest),
    blob: (digest) => all().blobs.get(digest),
  };
}

function buildAll() {
  const images = new Map<string, MalformedImage>();
  const manifests = new Map<string, MalformedManifest>();
  const blobs = new Map<string, ServedBlob>();
  for (const { kind, build } of MALFORMED_KINDS) {
    const image = build(kind);
    images.set(kind, image);
    for (const manifest of image.manifests) addOnce(manifests, manifest.digest.text, manifest, kind);
    for (const blob of image.blobs) addOnce(blobs, blob.digest, blob, kind);
  }
  return { images, manifests, blobs };
}

function addOnce<T extends { bytes: Buffer }>(map: Map<string, T>, digest: string, value: T, kind: string): void {
  const existing = map.get(digest);
  if (existing && !existing.bytes.equals(value.bytes)) throw new Error(`malformed corpus: ${kind} serves ${digest} with other bytes than another kind`);
  map.set(digest, value);
}
