// Manifest operations: GET/HEAD from any content source by tag or digest; PUT and DELETE on the store.
import { RegistryError } from '../oci/errors.js';
import { parseDigest } from '../oci/digest.js';
import { requireDigest, isValidTag, requireTag } from '../oci/reference.js';
import { MediaType, isMediaType } from '../oci/media-types.js';
import { declaredMediaType } from '../store/manifest-facts.js';
import type { Handler, RequestContext } from '../http/context.js';
import { readBody } from '../http/request.js';
import { emptyPlan, type ResponsePlan } from '../http/response.js';
import { storeSource, type ContentSource, type ManifestContent, type ManifestReference } from './content.js';

/** Maximum manifest size accepted on PUT, as in CNCF distribution. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** A manifest reference to write: a digest when it has a colon, else a tag; both are checked. */
export function parseReference(reference: string): ManifestReference {
  if (reference.includes(':')) return { digest: requireDigest(reference) };
  return { tag: requireTag(reference) };
}

/**
 * A manifest reference to read. One that is neither a valid tag nor a digest names nothing, so it is
 * MANIFEST_UNKNOWN, as distribution and zot answer.
 */
export function parseReadReference(ctx: RequestContext): ManifestReference {
  const { reference } = ctx.route;
  if (reference.includes(':')) {
    const digest = parseDigest(reference);
    if (digest) return { digest };
  } else if (isValidTag(reference)) {
    return { tag: reference };
  }
  throw manifestUnknown(ctx);
}

export function manifestUnknown(ctx: RequestContext): RegistryError {
  const { name, reference } = ctx.route;
  return new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference.slice(0, 200)} is not in repository ${name}`, {
    detail: { name, reference: reference.slice(0, 200) },
  });
}

export function manifestPlan(manifest: ManifestContent): ResponsePlan {
  return {
    status: 200,
    headers: {
      'Content-Type': manifest.mediaType,
      'Content-Length': manifest.bytes.length,
      'Docker-Content-Digest': manifest.digest.text,
      ETag: `"${manifest.digest.text}"`,
    },
    body: { kind: 'bytes', bytes: manifest.bytes },
  };
}

/** GET and HEAD of the manifests a source holds. */
export function manifestReader(source: ContentSource): Handler {
  return async (ctx) => {
    const manifest = await source.manifest(ctx, parseReadReference(ctx));
    if (!manifest) throw manifestUnknown(ctx);
    await ctx.respond(manifestPlan(manifest));
  };
}

export const getManifest: Handler = manifestReader(storeSource);

export const putManifest: Handler = async (ctx) => {
  const { name, reference } = ctx.route;
  const ref = parseReference(reference);
  const bytes = await readBody(ctx.body, ctx.req.headers['content-length'], MAX_MANIFEST_BYTES, 'manifest');
  if (bytes.length === 0) throw new RegistryError('MANIFEST_INVALID', 'manifest body is empty');
  const mediaType = (contentType(ctx.req.headers['content-type']) ?? declaredMediaType(bytes)) || MediaType.ociManifest;
  if (!isMediaType(mediaType)) {
    // It would be the Content-Type of every pull: one that cannot be a header value is refused now.
    throw new RegistryError('MANIFEST_INVALID', `media type ${JSON.stringify(mediaType.slice(0, 100))} is not a valid media type (type/subtype of visible ASCII)`, {
      detail: { mediaType: mediaType.slice(0, 100) },
    });
  }
  const stored = await ctx.deps.store.putManifest(name, bytes, mediaType, { tag: ref.tag, expected: ref.digest });
  const headers: Record<string, string> = {
    Location: `/v2/${name}/manifests/${stored.digest.text}`,
    'Docker-Content-Digest': stored.digest.text,
  };
  if (stored.subject) headers['OCI-Subject'] = stored.subject.text;
  await ctx.respond(emptyPlan(201, headers));
};

export const deleteManifest: Handler = async (ctx) => {
  const { name } = ctx.route;
  const ref = parseReference(ctx.route.reference);
  const store = ctx.deps.store;
  const deleted = ref.digest ? await store.deleteManifest(name, ref.digest) : await store.deleteTag(name, ref.tag);
  if (!deleted) throw manifestUnknown(ctx);
  await ctx.respond(emptyPlan(202));
};

/** The media type of a Content-Type header, without parameters; undefined when absent or generic. */
function contentType(header: string | undefined): string | undefined {
  const type = header?.split(';')[0]?.trim();
  if (!type || type === 'application/octet-stream' || type === 'application/x-www-form-urlencoded') return undefined;
  return type;
}
