// A blob as content while a BlobFetch is still writing it: its bytes are read along the fetch, from
// memory when close behind it, else from the temp file, and from the stored file once it is there.
import fs from 'node:fs/promises';
import { isMissing } from '../store/atomic.js';
import type { ByteRange } from '../http/request.js';
import { bodyChunks } from '../http/response.js';
import { fileContent, type BlobContent } from '../registry/content.js';
import type { BufferPool, LentChunk } from '../http/lent.js';
import type { Digest } from '../oci/digest.js';
import type { BlobFetch } from './blob-fetch.js';

/**
 * The content of a fetch once the upstream answered. Without an announced size a HEAD or a range
 * cannot be answered before the whole blob is there, so those wait for it.
 */
export async function fetchContent(fetch: BlobFetch, digest: Digest, wantsWhole: boolean, signal: AbortSignal): Promise<BlobContent> {
  await until(fetch.started, signal);
  if (fetch.state === 'failed') throw fetch.error;
  if (fetch.state === 'done' && fetch.result) return fileContent(fetch.result);
  if (fetch.size === undefined && !wantsWhole) return fileContent(await until(fetch.done, signal));
  const size = fetch.size;
  return {
    digest,
    size,
    body: (range?: ByteRange) => ({
      kind: 'stream',
      chunks: (bodySignal) => readAlong(fetch, range?.start ?? 0, range?.end ?? (size === undefined ? Infinity : size - 1), bodySignal),
    }),
  };
}

async function* readAlong(fetch: BlobFetch, start: number, end: number, signal: AbortSignal): AsyncIterable<Uint8Array> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(fetch.tempPath, 'r');
  } catch (error) {
    // Renamed into the store (or failed) since the headers were decided: read the stored file.
    if (!isMissing(error)) throw error;
    const stored = await until(fetch.done, signal);
    yield* bodyChunks({ kind: 'file', path: stored.path, start, end: Math.min(end, stored.size - 1) }, signal);
    return;
  }
  const cursor = { position: start };
  const unfollow = fetch.follow(cursor);
  try {
    let position = start;
    while (position <= end) {
      cursor.position = position;
      fetch.moved();
      if (fetch.state === 'failed') throw fetch.error;
      const limit = Math.min(fetch.readableLimit(), end + 1);
      if (position >= limit) {
        if (fetch.state === 'done') return;
        await until(fetch.nextChange(), signal);
        continue;
      }
      // What a reader takes at once: a block of the fetch's pool, lent to the response writer.
      const length = Math.min(limit - position, fetch.pool.size);
      // Readers close behind the fetch copy the bytes from memory; laggards read the temp file, as far
      // as it is written (bytes can leave memory a moment before their write completes, and the writes
      // may have fallen behind and go on from a second request).
      const slices = fetch.recentSlices(position, length);
      let chunk: LentChunk;
      if (slices.length > 0) chunk = fetch.pool.lendCopy(slices);
      else {
        const onDisk = Math.min(end + 1, fetch.fileLimit()) - position;
        if (onDisk <= 0) {
          await until(fetch.nextChange(), signal);
          continue;
        }
        chunk = await readAt(handle, position, Math.min(fetch.pool.size, onDisk), fetch.pool);
      }
      position += chunk.length;
      yield chunk;
    }
  } finally {
    unfollow();
    await handle.close().catch(() => undefined);
  }
}

/** Up to length bytes of the file at position, in a block of pool lent to the writer. */
async function readAt(handle: fs.FileHandle, position: number, length: number, pool: BufferPool): Promise<LentChunk> {
  const buffer = pool.take();
  try {
    const { bytesRead } = await handle.read(buffer, 0, length, position);
    if (bytesRead === 0) throw new Error(`the temp file ended before ${position + length} bytes`);
    return pool.lend(buffer, bytesRead);
  } catch (error) {
    pool.give(buffer.buffer as ArrayBuffer);
    throw error;
  }
}

/** Waits for promise, or rejects with an AbortError as soon as the client goes away. */
export function until<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
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
