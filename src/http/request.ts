// Request helpers shared by every handler: the body with a size limit, Range, the query and the path.
import { Readable } from 'node:stream';
import type { RequestBody } from './context.js';
import { RegistryError } from '../oci/errors.js';

/**
 * Reads a whole request body, refusing anything over limit bytes with TOO_LARGE (at once when the
 * declared Content-Length says so).
 */
export async function readBody(body: RequestBody, contentLength: string | undefined, limit: number, what: string): Promise<Buffer> {
  const declared = Number(contentLength);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(what, limit);
  // A request is not destroyed when we stop early: the error response must still reach the client.
  const source = body instanceof Readable ? body.iterator({ destroyOnReturn: false }) : body;
  return readCapped(source as AsyncIterable<Uint8Array>, limit, () => tooLarge(what, limit));
}

/** Reads a whole body into memory, throwing tooLarge() as soon as it holds more than limit bytes. */
export async function readCapped(source: AsyncIterable<Uint8Array>, limit: number, tooLarge: () => Error): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function tooLarge(what: string, limit: number): RegistryError {
  return new RegistryError('TOO_LARGE', `${what} is larger than the limit of ${limit} bytes`, { detail: { limit } });
}

export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a single `Range: bytes=...` header against a blob of size bytes. Returns undefined when the
 * header is absent or not a single byte range (it is then ignored, as HTTP allows), and throws
 * RANGE_INVALID when the range cannot be satisfied.
 */
export function parseByteRange(header: string | undefined, size: number): ByteRange | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    start = Math.max(0, size - suffix);
    end = size - 1;
    if (suffix === 0) throw unsatisfiable(size);
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (match[2] !== '' && Number(match[2]) < start) return undefined;
  }
  if (start >= size) throw unsatisfiable(size);
  return { start, end };
}

function unsatisfiable(size: number): RegistryError {
  return new RegistryError('RANGE_INVALID', `requested range not satisfiable: the blob has ${size} bytes`, {
    headers: { 'Content-Range': `bytes */${size}` },
  });
}

/** The query string of a raw URL as a URLSearchParams. */
export function queryOf(url: string): URLSearchParams {
  const mark = url.indexOf('?');
  return new URLSearchParams(mark < 0 ? '' : url.slice(mark + 1));
}

export function pathOf(url: string): string {
  const mark = url.indexOf('?');
  return mark < 0 ? url : url.slice(0, mark);
}
