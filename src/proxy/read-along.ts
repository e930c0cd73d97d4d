// Serves a blob GET/HEAD from a BlobFetch in progress: headers as soon as the upstream answered, then
// the bytes as they are written (from memory when close behind the fetch, else from the temp file),
// honouring a single byte Range.
import { once } from 'node:events';
import fs from 'node:fs/promises';
import { sendBlob } from '../registry/blobs.js';
import { isMissing } from '../store/atomic.js';
import { parseByteRange } from '../server/http.js';
import type { RequestContext } from '../server/context.js';
import type { Digest } from '../oci/digest.js';
import type { BlobFetch } from './blob-fetch.js';

const READ_SIZE = 4 << 20;

export async function sendFromFetch(ctx: RequestContext, fetch: BlobFetch, digest: Digest): Promise<void> {
  await until(fetch.started, ctx.signal);
  if (fetch.state === 'failed') throw fetch.error;
  if (fetch.state === 'done' && fetch.result) return sendBlob(ctx, fetch.result);
  const size = fetch.size;
  const isHead = ctx.req.method === 'HEAD';
  // Without an announced size a range or a HEAD cannot be answered before the whole blob is there.
  if (size === undefined && (isHead || ctx.req.headers.range)) return sendBlob(ctx, await until(fetch.done, ctx.signal));
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(fetch.tempPath, 'r');
  } catch (error) {
    // Renamed into the store (or failed) between the state check and the open.
    if (isMissing(error)) return sendBlob(ctx, await until(fetch.done, ctx.signal));
    throw error;
  }
  try {
    const range = size === undefined ? undefined : parseByteRange(ctx.req.headers.range, size);
    const start = range?.start ?? 0;
    const end = range?.end ?? (size === undefined ? Infinity : size - 1);
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/octet-stream',
      'Docker-Content-Digest': digest.text,
      'Accept-Ranges': 'bytes',
      ETag: `"${digest.text}"`,
    };
    if (size !== undefined) headers['Content-Length'] = end - start + 1;
    if (range && size !== undefined) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    ctx.res.writeHead(range ? 206 : 200, headers);
    if (isHead || size === 0) {
      ctx.res.end();
      return;
    }
    await copyAlong(ctx, fetch, handle, start, end);
    ctx.res.end();
  } finally {
    await handle.close().catch(() => undefined);
  }
}

async function copyAlong(ctx: RequestContext, fetch: BlobFetch, handle: fs.FileHandle, start: number, end: number) {
  let position = start;
  while (position <= end) {
    if (fetch.state === 'failed') throw fetch.error;
    const limit = Math.min(fetch.readableLimit(), end + 1);
    if (position >= limit) {
      if (fetch.state === 'done') return;
      await until(fetch.nextChange(), ctx.signal);
      continue;
    }
    const length = Math.min(limit - position, READ_SIZE);
    // Readers close behind the fetch take the bytes from memory; laggards read the temp file.
    let slices = fetch.recentSlices(position, length);
    if (slices.length === 0) slices = [await readAt(handle, position, length)];
    let flushed = true;
    ctx.res.cork();
    for (const slice of slices) {
      flushed = ctx.res.write(slice);
      position += slice.length;
    }
    ctx.res.uncork();
    if (!flushed) {
      await once(ctx.res, 'drain', { signal: ctx.signal });
    }
  }
}

async function readAt(handle: fs.FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  if (bytesRead === 0) throw new Error(`the temp file ended before ${position + length} bytes`);
  return bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
}

/** Waits for promise, or rejects with an AbortError as soon as the client goes away. */
function until<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function abortError(): Error {
  return Object.assign(new Error('the client went away'), { name: 'AbortError', code: 'ABORT_ERR' });
}
