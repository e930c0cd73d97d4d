// The hot path of storing a blob (a push, a PATCH, a generated layer): a body goes to a file with as
// little work per chunk as possible. Chunks are collected as they arrive while the batch before them
// is written on the libuv threadpool, and each written range is reported so that a FileHasher
// (file-hasher.ts) can hash it on its own thread: the event loop only receives. A batch (what arrived
// meanwhile) goes out in writes of up to 512 KiB, two at a time, instead of one write per 64 KiB socket
// read, because every write costs a threadpool round trip. A stream pipeline with a Transform and a
// WriteStream did the same work with more per-chunk overhead and less overlap.
import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import { chunkFreer, isOwnedByReader } from './owned-chunks.js';

/**
 * The body is paused while this much waits for the disk. With the batch being written it bounds the
 * memory of one upload: peak RSS during a 1 GiB push stayed at 100-111 MB in bench:registry (the
 * whole server, with a request's chunks freed once written), and 4 MiB pushed a little faster than
 * 8 MiB on the bench machine.
 */
const MAX_PENDING_BYTES = 4 << 20;

/**
 * The most one write hands the kernel. On the bench machine (Linux 6.18, ext4) a write of 1 MiB or
 * more fills new page-cache folios as large as the write, and those cost the kernel three to six
 * times as much as the ones 512 KiB writes get: a new 1 GiB file written in 4 MiB writes took 3.4 to
 * 4.2 CPU-s, in 512 KiB writes 0.5 to 0.7 (bench/README.md, bench:registry).
 */
const WRITE_BYTES = 512 << 10;

/**
 * Writes of a batch in flight at once. The kernel copies one at a time into the file anyway; the
 * second waits there, ready, instead of on a round trip through the event loop (512 KiB writes of a
 * 1 GiB file: 1.3-1.6 GB/s one at a time, 2.0-2.6 GB/s two at a time).
 */
const WRITES_IN_FLIGHT = 2;

/**
 * Reads source to its end, writing it to the open file at position onwards, and calls written(end,
 * chunks) each time the bytes before end are in the file, chunks being the ones just written (the
 * caller may keep them, unless source is a stream marked ownedByReader: its chunks are freed once
 * written returns). Resolves with the number of bytes received, all of them written. On failure (the
 * body cut off, a write error) it rejects only once no write is in flight, so the caller may cut the
 * file back at once; the source is paused, not destroyed, so an error response can still be sent.
 *
 * One batch is written at a time: what arrives meanwhile is the next batch. A batch starts from
 * setImmediate, after the event loop has read whatever the socket holds, so a batch holds the data
 * at hand without ever waiting for more: a slow client's bytes still reach the file as they come.
 */
export function receiveToFile(
  source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  file: fs.FileHandle,
  position: number,
  written: (end: number, chunks: readonly Uint8Array[]) => void = () => undefined,
): Promise<number> {
  const body = isReadable(source) ? source : Readable.from(source, { objectMode: false });
  const free = body === source && isOwnedByReader(body) ? chunkFreer() : undefined;
  return new Promise<number>((resolve, reject) => {
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let received = 0;
    let writing = false;
    let scheduled = false;
    let ended = false;
    let paused = false;
    let failure: { error: unknown } | undefined;

    const detach = () => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', fail);
      body.off('close', onClose);
    };
    const fail = (error: unknown) => {
      if (failure) return;
      failure = { error };
      detach();
      body.pause();
      if (!writing) reject(error);
    };
    const onData = (chunk: Uint8Array) => {
      if (chunk.length === 0) return;
      pending.push(chunk);
      pendingBytes += chunk.length;
      received += chunk.length;
      if (!paused && pendingBytes >= MAX_PENDING_BYTES) {
        paused = true;
        body.pause();
      }
      schedule();
    };
    const onEnd = () => {
      ended = true;
      detach();
      schedule();
    };
    // 'close' before 'end': the client went away (or the body was cut for stalling).
    const cutOff = () => Object.assign(new Error('the request body was cut off'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
    const onClose = () => {
      if (!ended) fail(cutOff());
    };
    const schedule = () => {
      if (scheduled || writing) return;
      scheduled = true;
      setImmediate(next);
    };
    const next = () => {
      scheduled = false;
      if (failure || writing) return;
      if (pendingBytes > 0) write();
      else if (ended) resolve(received);
    };
    const write = () => {
      const batch = pending;
      const at = position;
      position += pendingBytes;
      pending = [];
      pendingBytes = 0;
      writing = true;
      if (paused) {
        paused = false;
        body.resume();
      }
      writeAll(file, batch, at).then(
        () => {
          writing = false;
          if (failure) return reject(failure.error);
          written(position, batch);
          free?.(batch);
          schedule();
        },
        (error: unknown) => {
          writing = false;
          if (failure) reject(failure.error);
          else fail(error);
        },
      );
    };

    if (body.readableEnded) {
      resolve(0);
      return;
    }
    // Gone before we got here (the client hung up, the upstream cut the connection): its 'error' and
    // 'close' were already emitted and would never reach the listeners below.
    if (body.errored || body.destroyed) {
      reject(body.errored ?? cutOff());
      return;
    }
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', fail);
    body.once('close', onClose);
    body.resume();
  });
}

/** Writes every byte of buffers at position, in writes of at most WRITE_BYTES, WRITES_IN_FLIGHT at a time. */
async function writeAll(file: fs.FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  const writes = planWrites(buffers, position, WRITE_BYTES);
  let next = 0;
  let failure: { error: unknown } | undefined;
  // A lane never rejects, so that all of them have settled before the first error is thrown.
  const lane = async () => {
    for (let write = writes[next++]; write && !failure; write = writes[next++]) {
      try {
        await writeFully(file, write.buffers, write.position);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(WRITES_IN_FLIGHT, writes.length) }, lane));
  if (failure) throw failure.error;
}

export interface PlannedWrite {
  buffers: Uint8Array[];
  position: number;
}

/** Cuts buffers, to be written from position on, into consecutive writes of at most max bytes. */
export function planWrites(buffers: readonly Uint8Array[], position: number, max: number): PlannedWrite[] {
  const writes: PlannedWrite[] = [];
  let current: Uint8Array[] = [];
  let size = 0;
  for (const buffer of buffers) {
    for (let offset = 0; offset < buffer.length; ) {
      const take = Math.min(buffer.length - offset, max - size);
      current.push(take === buffer.length ? buffer : buffer.subarray(offset, offset + take));
      size += take;
      offset += take;
      if (size === max) {
        writes.push({ buffers: current, position });
        position += size;
        current = [];
        size = 0;
      }
    }
  }
  if (size > 0) writes.push({ buffers: current, position });
  return writes;
}

/**
 * Writes every byte of buffers at position. libuv writes a whole writev unless an error stops it part
 * way; writing the rest again then reports that error (a full disk) rather than a silent short write.
 */
async function writeFully(file: fs.FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  for (;;) {
    const total = buffers.reduce((sum, buffer) => sum + buffer.length, 0);
    const { bytesWritten } = await file.writev(buffers, position);
    if (bytesWritten === total) return;
    if (bytesWritten === 0) throw new Error(`a write of ${total} bytes at ${position} wrote nothing`);
    position += bytesWritten;
    let skip = bytesWritten;
    const rest: Uint8Array[] = [];
    for (const buffer of buffers) {
      if (skip >= buffer.length) skip -= buffer.length;
      else {
        rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
        skip = 0;
      }
    }
    buffers = rest;
  }
}

function isReadable(source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream): source is Readable {
  const readable = source as Partial<Readable>;
  return typeof readable.on === 'function' && typeof readable.pause === 'function' && typeof readable.resume === 'function';
}
