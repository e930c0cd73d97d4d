// A digest of bytes as they arrive, on the store's hashing thread (file-hasher.ts), for bytes that are
// not in a file yet or whose file may fall behind: a proxy checks what it writes as it receives it
// from the upstream, with no read-back of the file (blob-fetch.ts). update() copies each chunk into a
// 512 KiB slab; a full slab is transferred to the thread (no second copy) and comes back once hashed, to
// be filled again, so a digest holds at most a few slabs however long the body. A copy costs far less
// than the hash it takes off the event loop, and the chunks themselves stay with their other readers.
import type { HasherRequest } from './file-hasher.js';

/** The hashing thread as a running digest sees it (FileHasher implements it). */
export interface HashThread {
  send(message: HasherRequest, transfer: ArrayBuffer[]): void;
  /** Asks for the digest of everything sent; the job ends on the thread. */
  digest(): Promise<string>;
  /** The job is over here (digest asked for, or closed). */
  end(): void;
  /** Drops the job on the thread. */
  close(): void;
}

const SLAB_BYTES = 512 << 10;
/** Slabs out on the thread before update() asks its caller to wait: 2 MiB ahead of the hash. */
const MAX_OUT = 4;
/**
 * Slabs kept for reuse once hashed. More than MAX_OUT: a 1 MiB chunk fills two slabs past the point
 * where the caller is asked to wait, and with room for only MAX_OUT the ones beyond were dropped and
 * made again (250 new slabs in a 1 GiB second request, 20 with this room).
 */
const MAX_SPARE = 2 * MAX_OUT;

export class RunningDigest {
  /** Bytes fed so far. */
  length = 0;
  private slab: ArrayBuffer | undefined;
  private filled = 0;
  private readonly spare: ArrayBuffer[] = [];
  private out = 0;
  private ended = false;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly id: number,
    private readonly thread: HashThread,
  ) {}

  /** Feeds bytes; false when the thread is behind: wait for drained() before feeding much more. */
  update(chunk: Uint8Array): boolean {
    if (this.ended) throw new Error('internal: the running digest has ended');
    let at = 0;
    while (at < chunk.length) {
      const slab = (this.slab ??= this.spare.pop() ?? new ArrayBuffer(SLAB_BYTES));
      const take = Math.min(chunk.length - at, SLAB_BYTES - this.filled);
      new Uint8Array(slab, this.filled, take).set(chunk.subarray(at, at + take));
      this.filled += take;
      at += take;
      if (this.filled === SLAB_BYTES) this.flush();
    }
    this.length += chunk.length;
    return this.out < MAX_OUT;
  }

  /** Resolves once the thread has caught up enough to feed again. */
  drained(): Promise<void> {
    if (this.out < MAX_OUT || this.ended) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The hex digest of every byte fed; ends this digest. */
  digest(): Promise<string> {
    if (this.ended) return Promise.reject(new Error('internal: the running digest has ended'));
    this.flush();
    this.finish();
    return this.thread.digest();
  }

  close(): void {
    if (this.ended) return;
    this.finish();
    this.thread.close();
  }

  /** From the thread: a slab it has hashed, to fill again. */
  returned(slab: ArrayBuffer): void {
    this.out--;
    if (this.spare.length < MAX_SPARE) this.spare.push(slab);
    if (this.out < MAX_OUT) this.wake();
  }

  /** The thread stopped: nothing will come back (the digest, if asked for, fails). */
  stopped(): void {
    this.ended = true;
    this.wake();
  }

  private flush(): void {
    const slab = this.slab;
    if (!slab || this.filled === 0) return;
    const length = this.filled;
    this.slab = undefined;
    this.filled = 0;
    this.out++;
    this.thread.send({ type: 'bytes', id: this.id, buffer: slab, length }, [slab]);
  }

  private finish(): void {
    this.ended = true;
    this.thread.end();
    this.spare.length = 0;
    this.slab = undefined;
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
