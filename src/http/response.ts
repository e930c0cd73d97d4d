// What a handler answers, as data: a status, headers and a body. Handlers build a ResponsePlan and
// hand it to ctx.respond, which writes it; a decorator (a fault, a redirect) gets the plan first and
// may delay it, re-head it, or wrap its body, the same way for every scenario.
import fs from 'node:fs';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';

export type Headers = Record<string, string | number>;

export type Body =
  /** Bytes in memory (a manifest, a JSON answer). */
  | { kind: 'bytes'; bytes: Uint8Array }
  /** Bytes start..end (inclusive) of a complete file: sent with reused buffers, the fast path. */
  | { kind: 'file'; path: string; start: number; end: number }
  /** Bytes produced as they come (a blob read along an upstream fetch, a body a fault reshapes). */
  | { kind: 'stream'; chunks: (signal: AbortSignal) => AsyncIterable<Uint8Array> };

export interface ResponsePlan {
  status: number;
  headers: Headers;
  /** Absent for HEAD and empty answers. */
  body?: Body;
}

export function jsonPlan(status: number, value: unknown, headers: Headers = {}): ResponsePlan {
  const bytes = Buffer.from(JSON.stringify(value));
  return { status, headers: { 'Content-Type': 'application/json', 'Content-Length': bytes.length, ...headers }, body: { kind: 'bytes', bytes } };
}

export function emptyPlan(status: number, headers: Headers = {}): ResponsePlan {
  return { status, headers: { 'Content-Length': 0, ...headers } };
}

/** The number of bytes a body holds. */
export function bodyLength(body: Body): number | undefined {
  if (body.kind === 'bytes') return body.bytes.length;
  if (body.kind === 'file') return body.end - body.start + 1;
  return undefined;
}

/** Any body as a sequence of chunks, for decorators that reshape bytes whatever their source. */
export async function* bodyChunks(body: Body, signal: AbortSignal): AsyncIterable<Uint8Array> {
  if (body.kind === 'bytes') {
    if (body.bytes.length > 0) yield body.bytes;
    return;
  }
  if (body.kind === 'stream') {
    yield* body.chunks(signal);
    return;
  }
  const handle = await fs.promises.open(body.path, 'r');
  try {
    let position = body.start;
    while (position <= body.end) {
      if (signal.aborted) return;
      const buffer = Buffer.allocUnsafe(Math.min(FILE_CHUNK, body.end - position + 1));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead <= 0) throw new Error(`${body.path} ended at ${position}, before byte ${body.end}`);
      position += bytesRead;
      yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close().catch(() => undefined);
  }
}

export interface WriteOptions {
  pool: ChunkPool;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
}

/** Writes a plan: the status line and headers, then the body (none for HEAD), then the end. */
export async function writePlan(res: ServerResponse, plan: ResponsePlan, options: WriteOptions): Promise<void> {
  res.writeHead(plan.status, plan.headers);
  const body = res.req?.method === 'HEAD' ? undefined : plan.body;
  if (!body) {
    res.end();
    return;
  }
  if (body.kind === 'bytes') {
    res.end(body.bytes);
    return;
  }
  if (body.kind === 'file') {
    if (body.end < body.start) res.end();
    else await sendFileRange(res, body.path, body.start, body.end, options.pool);
    return;
  }
  await writeStream(res, body.chunks(options.signal), options.signal);
}

/**
 * The most a stream body writes to a corked response before it sends them: chunks that come in a burst
 * (a blob read along a fetch gives the 64 KiB pieces the upstream's socket delivered) leave in one
 * writev instead of one write each; no more than this is queued beyond the socket's own buffer.
 */
const CORK_BYTES = 1 << 20;

/**
 * Writes chunks as they come, corked: what arrives within one turn of the event loop (up to
 * CORK_BYTES) goes out together; then waits for drain if the socket is full. Ends the response.
 */
async function writeStream(res: ServerResponse, chunks: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<void> {
  let corked = 0;
  let flushing: NodeJS.Immediate | undefined;
  const flush = () => {
    clearImmediate(flushing);
    flushing = undefined;
    if (corked === 0) return;
    corked = 0;
    res.uncork();
  };
  try {
    for await (const chunk of chunks) {
      if (corked === 0) {
        res.cork();
        flushing = setImmediate(flush); // the next chunk is not at hand: send what is queued
      }
      corked += chunk.length;
      res.write(chunk);
      if (corked >= CORK_BYTES) {
        flush();
        if (res.writableNeedDrain) await once(res, 'drain', { signal });
      }
    }
  } finally {
    flush();
  }
  res.end();
}

/**
 * Bytes read from a file per write to the socket: big enough to keep syscalls and wake-ups rare, small
 * enough that a chunk is still in the CPU's cache when the socket copies it out (bench/README).
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
