// Blob uploads: monolithic POST, POST then PUT, chunked PATCH, status, cancel and cross-repository mount.
import { RegistryError } from '../oci/errors.js';
import { parseDigest } from '../oci/digest.js';
import { requireDigest, isValidName } from '../oci/reference.js';
import type { Handler, RequestContext } from '../http/context.js';
import { uploadRange } from '../http/errors.js';
import { emptyPlan } from '../http/response.js';

function blobCreated(ctx: RequestContext, digest: string): Promise<void> {
  return ctx.respond(emptyPlan(201, { Location: `/v2/${ctx.route.name}/blobs/${digest}`, 'Docker-Content-Digest': digest }));
}

function uploadAccepted(ctx: RequestContext, status: 202 | 204, uuid: string, size: number): Promise<void> {
  return ctx.respond(
    emptyPlan(status, {
      Location: `/v2/${ctx.route.name}/blobs/uploads/${uuid}`,
      Range: uploadRange(size),
      'Docker-Upload-UUID': uuid,
    }),
  );
}

export const startUpload: Handler = async (ctx) => {
  const { name } = ctx.route;
  const { store, uploads } = ctx.deps;
  const mount = ctx.query.get('mount');
  const from = ctx.query.get('from');
  if (mount !== null) {
    const digest = parseDigest(mount);
    if (digest && from && isValidName(from) && (await store.repositoryBlob(from, digest))) {
      await store.linkBlob(name, digest);
      await blobCreated(ctx, digest.text);
      return;
    }
    // Not mountable: fall back to an ordinary upload session, as the spec allows.
  }
  const digestParam = ctx.query.get('digest');
  if (digestParam !== null) {
    const digest = requireDigest(digestParam);
    const blob = await store.ingestBlob(ctx.body, digest);
    await store.linkBlob(name, blob.digest);
    await blobCreated(ctx, blob.digest.text);
    return;
  }
  const uuid = await uploads.start(name);
  await uploadAccepted(ctx, 202, uuid, 0);
};

export const uploadStatus: Handler = async (ctx) => {
  const size = await ctx.deps.uploads.size(ctx.route.name, ctx.route.reference);
  await uploadAccepted(ctx, 204, ctx.route.reference, size);
};

export const patchUpload: Handler = async (ctx) => {
  const { name, reference: uuid } = ctx.route;
  const range = parseContentRange(ctx.req.headers['content-range']);
  const size = await ctx.deps.uploads.append(name, uuid, ctx.body, range);
  await uploadAccepted(ctx, 202, uuid, size);
};

export const finishUpload: Handler = async (ctx) => {
  const { name, reference: uuid } = ctx.route;
  const { store, uploads } = ctx.deps;
  const digest = requireDigest(ctx.query.get('digest') ?? undefined, 'digest query parameter');
  const hasBody = Number(ctx.req.headers['content-length'] ?? 0) > 0 || ctx.req.headers['transfer-encoding'] !== undefined;
  if (hasBody) await uploads.append(name, uuid, ctx.body);
  const blob = await uploads.finish(name, uuid, digest);
  await store.linkBlob(name, blob.digest);
  await blobCreated(ctx, blob.digest.text);
};

export const cancelUpload: Handler = async (ctx) => {
  await ctx.deps.uploads.cancel(ctx.route.name, ctx.route.reference);
  await ctx.respond(emptyPlan(204));
};

/** `Content-Range: <start>-<end>` (OCI) or `bytes <start>-<end>/<total>` (HTTP style). */
function parseContentRange(header: string | undefined): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!match) throw new RegistryError('RANGE_INVALID', `Content-Range "${header.slice(0, 100)}" is not <start>-<end>`);
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (end < start) throw new RegistryError('RANGE_INVALID', `Content-Range ${start}-${end} ends before it starts`);
  return { start, end };
}
