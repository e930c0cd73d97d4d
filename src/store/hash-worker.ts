// The thread behind FileHasher (file-hasher.ts): hashes byte ranges of files as they are written,
// reading them back from the page cache, and running digests of bytes sent to it (in slabs it hands
// back), so that the event loop never runs the hash of a big body. It answers only what the client
// asks for: a digest, the error that stopped a job, and each slab once hashed.
import fs from 'node:fs';
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { HasherReply, HasherRequest } from './file-hasher.js';

/** Read size: large enough that a read costs little beside the hash, small enough to stay in cache. */
const READ_BYTES = 1 << 20;

interface Job {
  file: string;
  hash: Hash;
  /** Bytes of the file hashed so far. */
  position: number;
  /** The first error; the job then only waits for its digest request to report it. */
  failure?: string;
}

function serve(port: NonNullable<typeof parentPort>): void {
  const jobs = new Map<number, Job>();
  const buffer = Buffer.allocUnsafe(READ_BYTES);
  const reply = (message: HasherReply, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

  // The file is opened for each range, not held open: an upload session keeps its job between
  // requests for as long as the client likes, and thousands of them must not hold thousands of files.
  const hashUpTo = (job: Job, end: number) => {
    if (job.position >= end) return;
    const fd = fs.openSync(job.file, 'r');
    try {
      while (job.position < end) {
        const read = fs.readSync(fd, buffer, 0, Math.min(READ_BYTES, end - job.position), job.position);
        if (read === 0) throw new Error(`the file ended at ${job.position}, before ${end}`);
        job.hash.update(buffer.subarray(0, read));
        job.position += read;
      }
    } finally {
      fs.closeSync(fd);
    }
  };

  port.on('message', (message: HasherRequest) => {
    const job = jobs.get(message.id);
    try {
      switch (message.type) {
        case 'open':
          jobs.set(message.id, { file: message.file, hash: createHash(message.algorithm), position: message.from });
          break;
        case 'begin':
          jobs.set(message.id, { file: '', hash: createHash(message.algorithm), position: 0 });
          break;
        case 'bytes':
          try {
            if (job && !job.failure) {
              job.hash.update(new Uint8Array(message.buffer, 0, message.length));
              job.position += message.length;
            }
          } finally {
            reply({ id: message.id, slab: message.buffer }, [message.buffer]);
          }
          break;
        case 'finish':
          if (!job) throw new Error('no such job');
          if (job.failure) throw new Error(job.failure);
          reply({ id: message.id, hex: job.hash.digest('hex') });
          jobs.delete(message.id);
          break;
        case 'written':
          if (job && !job.failure) hashUpTo(job, message.end);
          break;
        case 'digest':
          if (!job) throw new Error('no such job');
          if (job.failure) throw new Error(job.failure);
          hashUpTo(job, message.end);
          reply({ id: message.id, hex: job.hash.digest('hex') });
          jobs.delete(message.id);
          break;
        case 'close':
          jobs.delete(message.id);
          break;
      }
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      if (message.type === 'digest' || message.type === 'finish') {
        reply({ id: message.id, error: text });
        jobs.delete(message.id);
      } else if (job) {
        job.failure ??= text;
      }
    }
  });
}

if (parentPort) serve(parentPort);
