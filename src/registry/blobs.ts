// Blob operations: GET/HEAD from any content source, honouring a single byte Range; DELETE.
import { RegistryError } from '../oci/errors.js';
import { requireDigest } from '../oci/reference.js';
import type { Handler, RequestContext } from '../http/context.js';
import { parseByteRange } from '../http/request.js';
import { emptyPlan, type ResponsePlan } from '../http/response.js';
import { storeSource, type BlobContent, type ContentSource } from './content.js';

/** The response to a blob GET or HEAD: 200 with the whole blob, or 206 with a Range (416 when it cannot be served). */
export function blobPlan(blob: BlobContent, method: string | undefined, rangeHeader: string | undefined): ResponsePlan {
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': blob.digest.text,
    'Accept-Ranges': 'bytes',
    ETag: `"${blob.digest.text}"`,
  };
  const size = blob.size;
  const range = size === undefined ? undefined : parseByteRange(rangeHeader, size);
  if (size !== undefined) {
    const start = range?.start ?? 0;
    const end = range?.end ?? size - 1;
    headers['Content-Length'] = end - start + 1;
    if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  }
  const status = range ? 206 : 200;
  if (method === 'HEAD' || size === 0) return { status, headers };
  return { status, headers, body: blob.body(range) };
}

export function blobUnknown(ctx: RequestContext, digest: string): RegistryError {
  return new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not in repository ${ctx.route.name}`, {
    detail: { name: ctx.route.name, digest },
  });
}

/** GET and HEAD of the blobs a source holds. */
export function blobReader(source: ContentSource): Handler {
  return async (ctx) => {
    const digest = requireDigest(ctx.route.reference);
    const blob = await source.blob(ctx, digest);
    if (!blob) throw blobUnknown(ctx, digest.text);
    await ctx.respond(blobPlan(blob, ctx.req.method, ctx.req.headers.range));
  };
}

export const getBlob: Handler = blobReader(storeSource);

export const deleteBlob: Handler = async (ctx) => {
  const digest = requireDigest(ctx.route.reference);
  if (!(await ctx.deps.store.unlinkBlob(ctx.route.name, digest))) throw blobUnknown(ctx, digest.text);
  await ctx.respond(emptyPlan(202));
};
