// What a handler answers, as data: a status, headers and a body. Handlers build a ResponsePlan and
// hand it to ctx.respond, which writes it; a decorator (a fault, a redirect) gets the plan first and
// may delay it, re-head it, or wrap its body, the same way for every scenario.
import fs from 'node:fs';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { BufferPool, LentChunk } from './lent.js';

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
      if (chunk instanceof LentChunk) res.write(chunk, () => chunk.giveBack());
      else res.write(chunk);
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
 * File bodies are read in batches of BATCH buffers of FILE_CHUNK bytes (one readv, one threadpool
 * round trip) and written to the socket one buffer at a time. A buffer stays referenced by the socket
 * only while the kernel has not taken it, so a client that stops reading holds one small buffer, not
 * a batch: 1,000 stalled readers must cost little (bench/stalled.ts).
 */
const FILE_CHUNK = 64 * 1024;
const BATCH = 8;
/**
 * Once a reader has shown it keeps up, the rest goes in 512 KiB buffers, two taking turns: big enough
 * to keep syscalls and wake-ups rare, small enough to stay in the CPU's cache (bench/README).
 */
const LARGE_CHUNK = 512 * 1024;

/**
 * Buffers for file bodies, kept for reuse between responses so a busy server does not allocate and
 * collect them all the time: small ones while a reader has not shown it keeps up, large ones after.
 * One per server; each size a BufferPool, which takes back only its own buffers, once each.
 */
export class ChunkPool {
  /** Responses sending a file to a reader that keeps up (sendFast), now. */
  streaming = 0;
  private readonly small: BufferPool;
  private readonly large: BufferPool;

  constructor(
    readonly chunkSize = FILE_CHUNK,
    readonly largeSize = LARGE_CHUNK,
    maxSpare = 256,
  ) {
    this.small = new BufferPool(chunkSize, maxSpare);
    this.large = new BufferPool(largeSize, maxSpare / 16);
  }

  take(): Buffer {
    return this.small.take();
  }

  takeLarge(): Buffer {
    return this.large.take();
  }

  give(buffer: Buffer): void {
    const pool = buffer.length === this.chunkSize ? this.small : this.large;
    pool.give(buffer.buffer as ArrayBuffer);
  }
}

function readvAt(fd: number, buffers: Buffer[], position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.readv(fd, buffers, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead)));
  });
}

/** Writes chunk; resolves when the kernel has taken it (or the write failed: the caller checks). */
function written(res: ServerResponse, chunk: Buffer, release: () => void): Promise<void> {
  return new Promise((resolve) => {
    res.write(chunk, () => {
      release();
      resolve();
    });
  });
}

/**
 * Waits for a write: true once it is done, false when timeoutMs passed first (it goes on); rejects as
 * soon as the response closes.
 */
function untilWrittenOrClosed(res: ServerResponse, write: Promise<void>, timeoutMs?: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const closed = () => {
      clearTimeout(timer);
      reject(Object.assign(new Error('the response was closed'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    if (res.destroyed) return closed();
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
      res.off('close', closed);
      resolve(false);
    }, timeoutMs);
    res.once('close', closed);
    void write.then(() => {
      clearTimeout(timer);
      res.off('close', closed);
      if (res.destroyed) closed();
      else resolve(true);
    });
  });
}


/** Bytes the response still holds that the kernel has not taken. */
function unsent(res: ServerResponse): number {
  return res.writableLength + (res.socket?.writableLength ?? 0);
}

/** How long the kernel may take a write before the reader counts as stalled (see sendFileRange). */
const STALL_MS = 50;
/**
 * Bytes a reader must have taken without stalling before the rest goes in large buffers: well past
 * what the kernel absorbs for a client that never reads (a send buffer that grows to 4 MiB, and the
 * client's receive window).
 */
const PROVEN = 16 * 1024 * 1024;

/**
 * Sends bytes start..end (inclusive) of a file as the response body, then ends it. Until the reader
 * has shown it keeps up (PROVEN bytes taken without a stall), buffers are read a batch at a time and
 * written one by one, and a write the kernel does not take at once is waited for. A wait that lasts
 * longer than STALL_MS marks the reader stalled: the buffers not yet written go back to the pool
 * (their bytes are read again later) and batches shrink to one buffer until it keeps up again, so a
 * reader that never reads holds one small buffer. A reader that keeps up gets the rest through
 * sendFast. Rejects when the client goes away or the file cannot be read.
 */
export async function sendFileRange(res: ServerResponse, file: string, start: number, end: number, pool: ChunkPool): Promise<void> {
  const fd = await new Promise<number>((resolve, reject) => fs.open(file, 'r', (error, opened) => (error ? reject(error) : resolve(opened))));
  try {
    let position = start;
    let batch = BATCH;
    /** Bytes the kernel took at once or soon: past PROVEN, the reader keeps up and gets large buffers. */
    let kept = 0;
    while (position <= end) {
      if (kept >= PROVEN) {
        await sendFast(res, fd, position, end, pool);
        return;
      }
      const remaining = end - position + 1;
      const count = Math.min(batch, Math.ceil(remaining / pool.chunkSize));
      const buffers = Array.from({ length: count }, () => pool.take());
      let bytesRead: number;
      try {
        bytesRead = await readvAt(fd, buffers, position);
      } catch (error) {
        buffers.forEach((buffer) => pool.give(buffer));
        throw error;
      }
      if (bytesRead <= 0) {
        buffers.forEach((buffer) => pool.give(buffer));
        throw new Error(`${file} ended at ${position}, before byte ${end}`);
      }
      let available = Math.min(bytesRead, remaining);
      let index = 0;
      let stalled: Promise<void> | undefined;
      for (; index < buffers.length && available > 0 && !stalled; index++) {
        if (res.destroyed) break;
        const buffer = buffers[index] as Buffer;
        const length = Math.min(buffer.length, available);
        available -= length;
        position += length;
        // A buffer goes back to the pool when the kernel has taken it; until then it is the socket's.
        const write = written(res, length === buffer.length ? buffer : buffer.subarray(0, length), () => pool.give(buffer));
        if (unsent(res) === 0 || (await untilWrittenOrClosed(res, write, STALL_MS))) {
          kept += length;
          continue;
        }
        kept = 0;
        stalled = write;
      }
      for (const buffer of buffers.slice(index)) pool.give(buffer);
      if (res.destroyed) throw Object.assign(new Error('the response was closed'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
      if (stalled) {
        batch = 1;
        await untilWrittenOrClosed(res, stalled);
      } else {
        batch = Math.min(BATCH, batch * 2);
      }
    }
    res.end();
  } finally {
    fs.close(fd, () => undefined);
  }
}

function readAt(fd: number, buffer: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    fs.read(fd, buffer, 0, length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead)));
  });
}

/**
 * The longest an inline read may take before a response's reads go to the thread pool. A read from the
 * page cache takes well under this (512 KiB in ~50 us); one that waits for the disk does not.
 */
const INLINE_READ_MS = 2;

/**
 * The rest of a file for a reader that keeps up: two large buffers take turns, a chunk handed to the
 * socket as soon as it is read, so the next one is already queued when the socket takes the last, and
 * a buffer refilled only once the socket has taken its bytes. Then the response ends.
 *
 * While it is the only such reader, its reads are made inline, on the event loop, as long as they come
 * from the page cache: a thread-pool round trip per 512 KiB cost more than the copy itself on a 2-core
 * machine (0.83-1.20 CPU-s per GiB served against 0.63-0.74 inline, bench/README.md). With several,
 * the thread pool reads beside the event loop's writes (inline, 8 parallel GETs lost a fifth). The
 * first read that takes longer than INLINE_READ_MS (the file is read from the disk) sends the rest of
 * this response's reads to the thread pool, so a cold file never holds the other connections up for
 * more than one read.
 */
async function sendFast(res: ServerResponse, fd: number, start: number, end: number, pool: ChunkPool): Promise<void> {
  const buffers = [pool.takeLarge(), pool.takeLarge()];
  const writes: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
  let completed = false;
  let inline = true;
  pool.streaming++;
  try {
    let position = start;
    for (let turn = 0; position <= end; turn++) {
      const slot = turn & 1;
      const buffer = buffers[slot] as Buffer;
      await writes[slot];
      if (res.destroyed) throw Object.assign(new Error('the response was closed'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
      const length = Math.min(buffer.length, end - position + 1);
      let bytesRead: number;
      if (inline && pool.streaming === 1) {
        const began = performance.now();
        bytesRead = fs.readSync(fd, buffer, 0, length, position);
        inline = performance.now() - began < INLINE_READ_MS;
      } else {
        bytesRead = await readAt(fd, buffer, length, position);
      }
      if (bytesRead <= 0) throw new Error(`the file ended at ${position}, before byte ${end}`);
      position += bytesRead;
      const write = untilWrittenOrClosed(res, written(res, bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead), () => undefined)).then(() => undefined);
      write.catch(() => undefined);
      writes[slot] = write;
    }
    await Promise.all(writes);
    completed = true;
    res.end();
  } finally {
    pool.streaming--;
    // After an error a write may still hold a buffer: those are left to the garbage collector.
    if (completed) for (const buffer of buffers) pool.give(buffer);
  }
}
