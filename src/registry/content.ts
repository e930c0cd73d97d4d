// The content seam under the handlers. A scenario answers "what is this manifest, this blob" with a
// ContentSource; one set of handlers (manifests.ts, blobs.ts) turns content into responses for every
// scenario, so a decorator that reshapes responses reshapes them the same way everywhere.
import type { Digest } from '../oci/digest.js';
import type { RequestContext } from '../http/context.js';
import type { ByteRange } from '../http/request.js';
import type { Body } from '../http/response.js';
import type { BlobInfo, StoredManifest } from '../store/store.js';

/** A manifest reference as asked: by digest, or by tag. */
export type ManifestReference = { digest: Digest; tag?: undefined } | { tag: string; digest?: undefined };

export type ManifestContent = StoredManifest;

export interface BlobContent {
  digest: Digest;
  /** The byte count; undefined while not yet known (a fetch whose upstream announced none). */
  size: number | undefined;
  /** The bytes of range (inclusive), or all of them. Only asked for GET. */
  body(range?: ByteRange): Body;
}

export interface ContentSource {
  /** The manifest of ctx.route.name, or undefined when there is none. */
  manifest(ctx: RequestContext, reference: ManifestReference): Promise<ManifestContent | undefined>;
  /** The blob of ctx.route.name, or undefined when the repository has none. */
  blob(ctx: RequestContext, digest: Digest): Promise<BlobContent | undefined>;
}

/** A blob stored as a complete file. */
export function fileContent(blob: BlobInfo): BlobContent {
  return {
    digest: blob.digest,
    size: blob.size,
    body: (range) => ({ kind: 'file', path: blob.path, start: range?.start ?? 0, end: range?.end ?? blob.size - 1 }),
  };
}

/** Manifests and blobs as the store holds them for the repository. */
export const storeSource: ContentSource = {
  manifest: (ctx, reference) => ctx.deps.store.getManifest(ctx.route.name, reference.digest ?? reference.tag),
  async blob(ctx, digest) {
    const blob = await ctx.deps.store.repositoryBlob(ctx.route.name, digest);
    return blob && fileContent(blob);
  },
};
