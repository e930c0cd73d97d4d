// Blob operations against the store: GET/HEAD with Range, DELETE.
import { RegistryError } from '../oci/errors.js';
import { requireDigest } from '../oci/digest.js';
import type { BlobInfo } from '../store/store.js';
import type { Handler, RequestContext } from '../server/context.js';
import { parseByteRange, sendEmpty, sendFileRange } from '../server/http.js';

export async function requireRepositoryBlob(ctx: RequestContext): Promise<BlobInfo> {
  const { name, reference } = ctx.route;
  const digest = requireDigest(reference);
  const blob = await ctx.deps.store.repositoryBlob(name, digest);
  if (!blob) {
    throw new RegistryError('BLOB_UNKNOWN', `blob ${digest.text} is not in repository ${name}`, {
      detail: { name, digest: digest.text },
    });
  }
  return blob;
}

/** Answers a blob GET or HEAD from a stored file, honouring a single byte Range. */
export async function sendBlob(ctx: RequestContext, blob: BlobInfo): Promise<void> {
  const range = parseByteRange(ctx.req.headers.range, blob.size);
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/octet-stream',
    'Docker-Content-Digest': blob.digest.text,
    'Accept-Ranges': 'bytes',
    ETag: `"${blob.digest.text}"`,
  };
  const start = range?.start ?? 0;
  const end = range?.end ?? blob.size - 1;
  headers['Content-Length'] = end - start + 1;
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${blob.size}`;
  ctx.res.writeHead(range ? 206 : 200, headers);
  if (ctx.req.method === 'HEAD' || blob.size === 0) {
    ctx.res.end();
    return;
  }
  await sendFileRange(ctx.res, blob.path, start, end, ctx.deps.chunks);
}

export const getBlob: Handler = async (ctx) => {
  await sendBlob(ctx, await requireRepositoryBlob(ctx));
};

export const deleteBlob: Handler = async (ctx) => {
  const digest = requireDigest(ctx.route.reference);
  if (!(await ctx.deps.store.unlinkBlob(ctx.route.name, digest))) {
    throw new RegistryError('BLOB_UNKNOWN', `blob ${digest.text} is not in repository ${ctx.route.name}`);
  }
  sendEmpty(ctx.res, 202);
};
