// Puts broken/random images into the store: the one path both `serve` and `seed` use, so both make
// exactly the same blobs, manifest and digests.
import type { Store, StoredManifest } from '../store/store.js';
import { generateRandomImage, formatRandomTag, type BlobSink, type RandomImageParams } from './random/index.js';
import { RandomLayerStream } from './random/layer.js';
import { digestOf, parseDigest, type Digest } from '../oci/digest.js';

export const RANDOM_REPOSITORY = 'broken/random';

export interface MaterializedImage {
  tag: string;
  digest: string;
  /** False when the image was already in the store and nothing was generated. */
  generated: boolean;
  /** The manifest as stored, ready to serve. */
  manifest: StoredManifest;
}

/**
 * A sink that streams each blob into the store and links it to broken/random. A generated layer
 * hashes itself as it is made, so the store trusts that digest instead of hashing the bytes again.
 */
export function storeSink(store: Store, onBytes?: (bytes: number) => void): BlobSink {
  return {
    async writeBlob(stream) {
      const counted = onBytes ? counting(stream, onBytes) : stream;
      const selfHashing = stream instanceof RandomLayerStream;
      const writer = await store.blobWriter({ hash: !selfHashing });
      try {
        await writer.write(counted);
        const made = selfHashing ? stream.digests : undefined;
        const blob = await writer.commit(made ? parseDigest(made.digest) : undefined);
        await store.linkBlob(RANDOM_REPOSITORY, blob.digest);
        return { digest: blob.digest.text, size: blob.size };
      } finally {
        await writer.cancel();
      }
    },
  };
}

/**
 * Makes sure broken/random:<tag> is stored. The canonical tag (formatRandomTag) is checked first, so
 * `layers-1_size-1k` and `size-1024_layers-1` share one generation; the requested tag is added too.
 */
export async function materializeRandomImage(
  store: Store,
  params: RandomImageParams,
  tag: string,
  onBytes?: (bytes: number) => void,
): Promise<MaterializedImage> {
  const canonical = formatRandomTag(params);
  for (const existingTag of new Set([tag, canonical])) {
    const existing = await store.getManifest(RANDOM_REPOSITORY, existingTag);
    if (existing) {
      await tagIfMissing(store, existing.bytes, existing.mediaType, [tag, canonical]);
      return { tag, digest: existing.digest.text, generated: false, manifest: existing };
    }
  }
  const image = await generateRandomImage(params, storeSink(store, onBytes));
  // An index's images and attestations first, by digest only: once the tag exists, every manifest it
  // names can be pulled.
  for (const child of image.children) await store.putManifest(RANDOM_REPOSITORY, child.manifest, child.mediaType);
  const digest = await tagIfMissing(store, image.manifest, image.mediaType, [canonical, tag]);
  return { tag, digest: image.manifestDigest, generated: true, manifest: { digest, mediaType: image.mediaType, bytes: image.manifest } };
}

/** Tags the manifest with each tag that does not exist yet; returns its digest. */
async function tagIfMissing(store: Store, manifest: Buffer, mediaType: string, tags: string[]) {
  let digest = parseDigest(digestOf(manifest)) as Digest;
  for (const tag of new Set(tags)) {
    if (!(await store.resolveTag(RANDOM_REPOSITORY, tag))) ({ digest } = await store.putManifest(RANDOM_REPOSITORY, manifest, mediaType, { tag }));
  }
  return digest;
}

async function* counting(stream: AsyncIterable<Uint8Array>, onBytes: (bytes: number) => void): AsyncIterable<Uint8Array> {
  for await (const chunk of stream) {
    onBytes(chunk.length);
    yield chunk;
  }
}
