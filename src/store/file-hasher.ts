// Hashing off the event loop: a file being written is hashed by a worker thread that reads back each
// range once it is written (from the page cache), instead of the event loop hashing every chunk as it
// arrives. sha256 costs about as much CPU as receiving the body; on the event loop it capped a push
// at what one core could do for both. The digest then also covers the bytes as they reached the file.
//
// Bytes that are not (or not yet) in a file are hashed there too, from copies in 512 KiB slabs sent to
// the thread and handed back for reuse: a RunningDigest (running-digest.ts) of what a proxy writes
// of an upstream body as it arrives (blob-fetch.ts).
//
// One worker serves every job, one message per written batch or slab. It keeps the process alive only while a
// digest is awaited, stops after a while with no job open, and a crashed worker fails its jobs and is
// replaced on the next one.
import { Worker } from 'node:worker_threads';
import type { Algorithm } from '../oci/digest.js';
import { RunningDigest, type HashThread } from './running-digest.js';

export type HasherRequest =
  | { type: 'open'; id: number; file: string; algorithm: Algorithm; from: number }
  | { type: 'written'; id: number; end: number }
  | { type: 'digest'; id: number; end: number }
  | { type: 'close'; id: number }
  | { type: 'begin'; id: number; algorithm: Algorithm }
  | { type: 'bytes'; id: number; buffer: ArrayBuffer; length: number }
  | { type: 'finish'; id: number };

export type HasherReply = { id: number; hex: string } | { id: number; error: string } | { id: number; slab: ArrayBuffer };

/** One file's hash, fed as the file is written. */
export interface HashJob {
  /** Bytes up to end (exclusive) are in the file: they may be hashed now. */
  written(end: number): void;
  /** The hex digest of the file's bytes from the start offset up to end; ends the job. */
  digest(end: number): Promise<string>;
  /** Ends the job without a digest (the write failed). */
  close(): void;
}

/** A worker with no job open stops after this long (a new job starts another, in a few ms). */
const DEFAULT_IDLE_MS = 10_000;

export class FileHasher {
  private worker?: Worker;
  private idleTimer?: NodeJS.Timeout;
  private nextId = 1;
  /** The jobs started and not yet ended (an upload session keeps one open between its requests). */
  private readonly jobs = new Set<number>();

  private readonly waiting = new Map<number, { resolve: (hex: string) => void; reject: (error: Error) => void }>();
  /** Running digests by job id: each gets its slabs back, and hears when the thread stops. */
  private readonly running = new Map<number, RunningDigest>();
  /** Slabs on the thread: the process waits for them as it waits for a digest. */
  private slabsOut = 0;

  constructor(private readonly idleMs = DEFAULT_IDLE_MS) {}

  /** Starts hashing file from byte from (the bytes before are not hashed). */
  start(file: string, algorithm: Algorithm, from = 0): HashJob {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    let ended = false;
    const end = () => {
      if (ended) return false;
      ended = true;
      this.jobs.delete(id);
      this.updateRef();
      return true;
    };
    this.jobs.add(id);
    this.updateRef();
    worker.postMessage({ type: 'open', id, file, algorithm, from } satisfies HasherRequest);
    return {
      written: (offset) => {
        if (!ended) worker.postMessage({ type: 'written', id, end: offset } satisfies HasherRequest);
      },
      digest: (offset) =>
        new Promise<string>((resolve, reject) => {
          if (!end()) return reject(new Error('the hash job has already ended'));
          if (this.worker !== worker) return reject(new Error('the hashing thread stopped'));
          this.waiting.set(id, { resolve, reject });
          this.updateRef(); // until the answer arrives
          worker.postMessage({ type: 'digest', id, end: offset } satisfies HasherRequest);
        }),
      close: () => {
        if (end() && this.worker === worker) worker.postMessage({ type: 'close', id } satisfies HasherRequest);
      },
    };
  }

  /** A digest of bytes fed in order (update), computed on the hashing thread. */
  digester(algorithm: Algorithm): RunningDigest {
    return this.runningDigest((id) => ({ type: 'begin', id, algorithm }));
  }

  private runningDigest(first: (id: number) => HasherRequest): RunningDigest {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    this.jobs.add(id);
    this.updateRef();
    worker.postMessage(first(id));
    const thread: HashThread = {
      send: (message, transfer) => {
        if (this.worker !== worker) return;
        if (this.slabsOut++ === 0) this.updateRef();
        worker.postMessage(message, transfer);
      },
      digest: () =>
        new Promise<string>((resolve, reject) => {
          if (this.worker !== worker) return reject(new Error('the hashing thread stopped'));
          this.waiting.set(id, { resolve, reject });
          this.updateRef();
          worker.postMessage({ type: 'finish', id } satisfies HasherRequest);
        }),
      end: () => {
        this.running.delete(id);
        if (this.jobs.delete(id)) this.updateRef();
      },
      close: () => {
        if (this.worker === worker) worker.postMessage({ type: 'close', id } satisfies HasherRequest);
      },
    };
    const digest = new RunningDigest(id, thread);
    this.running.set(id, digest);
    return digest;
  }

  /** Stops the worker; jobs still open fail. */
  async close(): Promise<void> {
    clearTimeout(this.idleTimer);
    const worker = this.worker;
    this.worker = undefined;
    this.jobs.clear();
    this.slabsOut = 0;
    if (worker) await worker.terminate();
    this.failAll(new Error('the hasher was closed'));
    this.stopRunning();
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./hash-worker.js', import.meta.url));
    worker.on('message', (reply: HasherReply) => {
      if ('slab' in reply) {
        if (--this.slabsOut === 0) this.updateRef();
        return this.running.get(reply.id)?.returned(reply.slab);
      }
      const waiter = this.waiting.get(reply.id);
      if (!waiter) return;
      this.waiting.delete(reply.id);
      this.updateRef();
      if ('hex' in reply) waiter.resolve(reply.hex);
      else waiter.reject(new Error(`hashing failed: ${reply.error}`));
    });
    const stopped = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.jobs.clear();
      this.slabsOut = 0;
      this.failAll(error);
      this.stopRunning();
    };
    worker.on('error', stopped);
    worker.on('exit', (code) => stopped(new Error(`the hashing thread exited with code ${code}`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** Refs the worker while a digest is awaited; arms the idle stop when nothing is open. */
  private updateRef(): void {
    const worker = this.worker;
    if (!worker) return;
    if (this.waiting.size > 0 || this.slabsOut > 0) worker.ref();
    else worker.unref();
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.jobs.size === 0 && this.waiting.size === 0) {
      this.idleTimer = setTimeout(() => {
        if (this.worker !== worker || this.jobs.size > 0 || this.waiting.size > 0) return;
        this.worker = undefined;
        void worker.terminate();
      }, this.idleMs).unref();
    }
  }

  /** The thread is gone: running digests stop waiting for their slabs (their digest fails). */
  private stopRunning(): void {
    const running = [...this.running.values()];
    this.running.clear();
    for (const digest of running) digest.stopped();
  }

  private failAll(error: Error): void {
    const waiters = [...this.waiting.values()];
    this.waiting.clear();
    for (const waiter of waiters) waiter.reject(error);
  }
}
