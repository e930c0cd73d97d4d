// Small response and request helpers shared by every handler.
import fs from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../oci/errors.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string | number> = {}): void {
  res.writeHead(status, { 'Content-Length': 0, ...headers });
  res.end();
}

/** Reads a whole request body, refusing anything over limit bytes with TOO_LARGE. */
export async function readBody(req: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(what, limit);
  const chunks: Buffer[] = [];
  let size = 0;
  // Not destroyed when we stop early: the error response must still reach the client.
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(what, limit);
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

/**
 * Bytes read from a file per write to the socket: big enough to keep syscalls and wake-ups rare, small
 * enough that a chunk is still in the CPU's cache when the socket copies it out. On the bench machine
 * 512 KiB gave 8 parallel 1 GiB GETs 3.2-3.7 GB/s where 2 MiB gave 2.1-3.1, and a lower peak RSS.
 */
const FILE_CHUNK = 512 * 1024;

/**
 * Chunk buffers for file bodies, kept for reuse between responses (two per response in flight) so a
 * busy server does not allocate and collect them all the time. One per server.
 */
export class ChunkPool {
  private readonly spare: Buffer[] = [];

  constructor(
    readonly chunkSize = FILE_CHUNK,
    private readonly maxSpare = 16,
  ) {}

  take(): Buffer {
    return this.spare.pop() ?? Buffer.allocUnsafeSlow(this.chunkSize);
  }

  give(buffer: Buffer): void {
    if (this.spare.length < this.maxSpare && buffer.length === this.chunkSize) this.spare.push(buffer);
  }
}

function readAt(fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buffer, 0, length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead)));
  });
}

function writeChunk(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const closed = () => reject(Object.assign(new Error('the response was closed'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    if (res.destroyed) {
      closed();
      return;
    }
    res.once('close', closed);
    res.write(chunk, (error) => {
      res.off('close', closed);
      if (error) reject(error);
      else resolve();
    });
  });
}

/**
 * Sends bytes start..end (inclusive) of a file as the response body, then ends it. Two reused chunk
 * buffers take turns: a chunk is handed to the socket as soon as it is read, so the next one is
 * already queued when the socket takes the last (no wake-up of this code in between), and a buffer is
 * only refilled once the socket has taken its bytes: memory stays at two chunks per response however
 * fast the disk is. Rejects when the client goes away or the file cannot be read.
 */
export async function sendFileRange(res: ServerResponse, file: string, start: number, end: number, pool: ChunkPool): Promise<void> {
  const fd = await new Promise<number>((resolve, reject) => fs.open(file, 'r', (error, opened) => (error ? reject(error) : resolve(opened))));
  const buffers = [pool.take(), pool.take()];
  // The write in flight from each buffer; each is also handled at once (a client may hang up while
  // the other buffer is being read) and awaited before its buffer is reused.
  const writes: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
  let completed = false;
  try {
    let position = start;
    for (let turn = 0; position <= end; turn++) {
      const slot = turn & 1;
      const buffer = buffers[slot] as Buffer;
      await writes[slot];
      const bytesRead = await readAt(fd, buffer, Math.min(buffer.length, end - position + 1), position);
      if (bytesRead <= 0) throw new Error(`${file} ended at ${position}, before byte ${end}`);
      position += bytesRead;
      const write = writeChunk(res, bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
      write.catch(() => undefined);
      writes[slot] = write;
    }
    await Promise.all(writes);
    completed = true;
    res.end();
  } finally {
    // After an error a write may still hold a buffer: those are left to the garbage collector.
    if (completed) for (const buffer of buffers) pool.give(buffer);
    fs.close(fd, () => undefined);
  }
}
