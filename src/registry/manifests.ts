// Manifest operations against the store: GET/HEAD by tag or digest, PUT by tag or digest, DELETE.
import { RegistryError } from '../oci/errors.js';
import { requireDigest, type Digest } from '../oci/digest.js';
import { requireTag } from '../oci/reference.js';
import { MediaType } from '../oci/media-types.js';
import { declaredMediaType } from '../store/manifest-facts.js';
import type { StoredManifest } from '../store/store.js';
import type { Handler, RequestContext } from '../server/context.js';
import { readBody, sendEmpty } from '../server/http.js';

/** Maximum manifest size accepted on PUT, as in CNCF distribution. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** A manifest reference is a digest when it has a colon, else a tag; both are checked. */
export function parseReference(reference: string): { digest?: Digest; tag?: string } {
  if (reference.includes(':')) return { digest: requireDigest(reference) };
  return { tag: requireTag(reference) };
}

export function sendManifest(ctx: RequestContext, manifest: StoredManifest): void {
  ctx.res.writeHead(200, {
    'Content-Type': manifest.mediaType,
    'Content-Length': manifest.bytes.length,
    'Docker-Content-Digest': manifest.digest.text,
    ETag: `"${manifest.digest.text}"`,
  });
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : manifest.bytes);
}

export const getManifest: Handler = async (ctx) => {
  const { name, reference } = ctx.route;
  const ref = parseReference(reference);
  const manifest = await ctx.deps.store.getManifest(name, ref.digest ?? ref.tag ?? '');
  if (!manifest) {
    throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference} is not in repository ${name}`, {
      detail: { name, reference },
    });
  }
  sendManifest(ctx, manifest);
};

export const putManifest: Handler = async (ctx) => {
  const { name, reference } = ctx.route;
  const ref = parseReference(reference);
  const bytes = await readBody(ctx.req, MAX_MANIFEST_BYTES, 'manifest');
  if (bytes.length === 0) throw new RegistryError('MANIFEST_INVALID', 'manifest body is empty');
  const mediaType = contentType(ctx.req.headers['content-type']) ?? declaredMediaType(bytes) ?? MediaType.ociManifest;
  const stored = await ctx.deps.store.putManifest(name, bytes, mediaType, { tag: ref.tag, expected: ref.digest });
  const headers: Record<string, string> = {
    Location: `/v2/${name}/manifests/${stored.digest.text}`,
    'Docker-Content-Digest': stored.digest.text,
  };
  if (stored.subject) headers['OCI-Subject'] = stored.subject.text;
  sendEmpty(ctx.res, 201, headers);
};

export const deleteManifest: Handler = async (ctx) => {
  const { name, reference } = ctx.route;
  const ref = parseReference(reference);
  const store = ctx.deps.store;
  const deleted = ref.digest ? await store.deleteManifest(name, ref.digest) : await store.deleteTag(name, ref.tag ?? '');
  if (!deleted) {
    throw new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference} is not in repository ${name}`, {
      detail: { name, reference },
    });
  }
  sendEmpty(ctx.res, 202);
};

/** The media type of a Content-Type header, without parameters; undefined when absent or generic. */
function contentType(header: string | undefined): string | undefined {
  const type = header?.split(';')[0]?.trim();
  if (!type || type === 'application/octet-stream' || type === 'application/x-www-form-urlencoded') return undefined;
  return type;
}

