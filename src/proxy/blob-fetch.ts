// One upstream blob fetch, written to a temp file in the store while any number of clients read along.
// Readers take the bytes from memory as they arrive from the upstream (not once they are on disk, so a
// client never waits for the store's writes), and from the temp file when they fall behind. The bytes
// written are hashed as they arrive, on the store's hashing thread, and while the writes keep up readers
// get the last byte only once that digest matches: a client gets no complete body that does not match,
// and none waits for the disk. The blob counts as stored only once the file is complete, its digest
// checked, and renamed into the store. The fetch runs to the end whatever its readers do (a client
// hanging up does not stop it).
//
// The disk may fall behind the upstream (this VM's page cache faults memory in from the host on first
// use: a new 1 GiB file can take longer than the whole transfer). Memory is bounded, so the fetch does
// not buffer for it, nor does it slow the clients down to its pace: once the writes are far enough
// behind (fetchMemory's lag), they stop following the body, and when the body is done they go on from
// where they stopped with a second request (a Range from that offset), as distribution's pull-through
// cache stores from a second fetch. That is for one or two fetches at a time; with more, a second
// request each would double the upstream's work and the memory, so their bodies wait for the writes.
// The running digest stops with the writes and goes on with the second request's bytes, so what is
// stored is checked, each byte hashed once. The rest of the first body goes to the readers unhashed,
// as from distribution's cache (clients check digests themselves): hashing it as well took a second
// core's worth of work from a pull that is CPU-bound on two.
//
// The body arrives in blocks from a pool (http1.ts reads the socket into them), and each block goes
// back to the pool once nothing can hold it: out of the window readers copy from, and written to the
// file (or past where the writes let go). Readers get copies in blocks of the same pool, lent to their
// response writer (read-along.ts), so a GiB passes through a few dozen blocks of memory.
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { RegistryError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import type { BlobInfo, BlobWriter, RunningDigest, Store } from '../store/store.js';
import type { BufferPool } from '../http/lent.js';

export interface BlobSource {
  /** Byte count the upstream announced, when it did (for a Range: of the part sent). */
  size?: number;
  body: Readable;
  /** The offset of the body's first byte: 0 when the upstream ignored a Range. */
  start: number;
  /** For messages: the upstream host. */
  host: string;
}

/** Opens the upstream body from byte from on (from > 0: a Range request). */
export type OpenSource = (from: number) => Promise<BlobSource>;

type State = 'running' | 'done' | 'failed';

/** The most fetches under way at which the writes of one may still let go of its body (fetchMemory). */
const DETACHING_FETCHES = 2;

/** Bytes a fetch keeps for its readers (window), and how far its writes may fall behind (lag; see fetchMemory). */
export interface FetchMemory {
  window: number;
  /** undefined: the writes never let go of the body. */
  lag: number | undefined;
}

/**
 * What a fetch keeps in memory, from a budget the fetches under way share. The window is the most
 * recently received data, so readers close behind need no disk read: alone, a fetch keeps 6 MiB, which
 * covers what receiveToFile holds while a write is in flight (up to 4 MiB waiting and the batch being
 * written), so a reader that keeps up never waits for the disk; eight at once keep 2 MiB each (their
 * readers share the upstream's pace, and the peak RSS stays bounded). The lag is how far the file's
 * writes may fall behind the body before they stop following it: twice the window, and never under
 * the 8 MiB that writes in flight and waiting normally reach, so this is a disk that is really behind.
 *
 * With more than DETACHING_FETCHES under way there is no lag (undefined): the writes never let go, and
 * the body waits for them. Letting go costs a second request of the rest of the blob, which runs beside
 * the first body: twice the upstream's work and the memory of both. For one pull that buys a client
 * that never waits for the disk; with eight new files at once all eight let go within their first
 * 20 MiB (the 4 threads that write them are shared), and the peak RSS rose from 172-185 MB to
 * 230-266 MB (bench/README.md, bench:proxy).
 */
export function fetchMemory(fetches: number): FetchMemory {
  const window = Math.max(2 << 20, Math.min(6 << 20, Math.floor((16 << 20) / Math.max(1, fetches))));
  return { window, lag: fetches > DETACHING_FETCHES ? undefined : Math.max(8 << 20, 2 * window) };
}

/**
 * The body goes at the pace of the faster of the writes and the readers reading from memory: it is
 * paused when the writes are behind and the readers do not keep up (and, with no readers, for the
 * writes alone, as before: no second request when nobody waits but the disk), and once the writes
 * fell behind, before bytes a reader has not read leave memory (a client slower than the upstream
 * is not sent to wait for the disk). A reader that holds the body longer than PACE_MS (a stalled
 * client) no longer does: from then on, the body goes at the upstream's pace.
 */
const PACE_MS = 2_000;

/** The body while it is read, with what decides whether it flows (see regulate). */
interface LiveBody {
  body: Readable;
  /** Bytes given to the file's writes. */
  fed: number;
  hashBehind: boolean;
  held: boolean;
  paused: boolean;
  /** Since when (performance.now()) a reader holds the body without a break. */
  heldSince?: number;
  timer?: NodeJS.Timeout;
}

/** A block of the pool, held while bytes in it are in the readers' window or not yet written. */
interface BlockUse {
  memory: ArrayBuffer;
  /** The body offset just past its last byte in the window (0: none there). */
  windowEnd: number;
  /** The body offset just past its last byte given to the file's writes (0: none). */
  fileEnd: number;
}

/** Where a reader is: it has had every byte before position. */
export interface Cursor {
  position: number;
}

export class BlobFetch {
  /** The file the blob is written to while it is fetched (known once started settles). */
  tempPath = '';
  state: State = 'running';
  /** Bytes received from the upstream so far: readers may read them from memory while they are recent. */
  received = 0;
  /** Bytes on disk in the temp file: readers too far behind for memory read them there. */
  written = 0;
  /**
   * Readers may have the body's last byte: it ended at its size and matched the digest (or, once the
   * writes let go, only ended at its size: see the top). The store may still be writing.
   */
  complete = false;
  /** Where the file's writes stopped following the body, to go on from a second request. */
  detachedAt?: number;
  size?: number;
  error?: unknown;
  /** It failed after every reader had gone: no client got the error (a 404 upstream has had none). */
  failedUnheard = false;
  result?: BlobInfo;
  /** Settles when the blob is in the store (or the fetch failed). */
  readonly done: Promise<BlobInfo>;
  /** Settles when the upstream answered (size known) or the fetch failed. */
  readonly started: Promise<void>;
  /** The last chunks received, with their offsets: readers keeping up take bytes from here. */
  private recent: { offset: number; bytes: Uint8Array }[] = [];
  private recentSize = 0;
  /** The pool's blocks the bodies arrived in, oldest first, with what holds them (see releaseBlocks). */
  private blocks: BlockUse[] = [];
  private readonly cursors = new Set<Cursor>();
  private followed = false;
  /** The body while it is read, with what decides whether it flows (see regulate). */
  private live?: LiveBody;
  /** A reader held the body longer than PACE_MS: the readers no longer pace it. */
  private unpaced = false;
  private changed!: Promise<void>;
  private notifyScheduled = false;
  private signalChange!: () => void;

  constructor(
    store: Store,
    digest: Digest,
    open: OpenSource,
    /** Where the body's blocks come from and go back to; readers' copies are lent from it too. */
    readonly pool: BufferPool,
    /** The memory it may keep now (fetchMemory of the fetches under way). */
    private readonly memory: () => FetchMemory,
    onStored: (info: BlobInfo) => Promise<void>,
  ) {
    this.resetChange();
    let markStarted!: () => void;
    this.started = new Promise<void>((resolve) => (markStarted = resolve));
    this.done = this.run(store, digest, open, markStarted, onStored);
    this.done.catch(() => undefined);
  }

  /** Resolves at the next progress, completion or failure. */
  nextChange(): Promise<void> {
    return this.changed;
  }

  /** How far readers may read from memory: everything once complete, else all but the last byte received. */
  readableLimit(): number {
    if (this.state === 'done') return this.written;
    return this.complete ? this.received : Math.max(0, this.received - 1);
  }

  /**
   * How far readers may read the temp file: as far as it is written, and the last byte only once it is
   * checked (once complete, or once stored when the writes went on from a second request).
   */
  fileLimit(): number {
    if (this.state === 'done') return this.written;
    return Math.min(this.written, this.detachedAt === undefined ? this.readableLimit() : Math.max(0, this.received - 1));
  }

  /** Up to length bytes at position from memory, as consecutive slices (never past readableLimit). */
  recentSlices(position: number, length: number): Uint8Array[] {
    const limit = Math.min(position + length, this.readableLimit());
    const slices: Uint8Array[] = [];
    let at = position;
    for (const { offset, bytes } of this.recent) {
      if (at >= limit) break;
      if (at < offset || at >= offset + bytes.length) continue;
      const slice = bytes.subarray(at - offset, Math.min(bytes.length, limit - offset));
      slices.push(slice);
      at += slice.length;
    }
    return slices;
  }

  /** Registers a reader; the body may wait for it (see PACE_MS). Returns the function to call when it ends. */
  follow(cursor: Cursor): () => void {
    this.cursors.add(cursor);
    this.followed = true;
    return () => {
      this.cursors.delete(cursor);
      this.regulate();
      this.dropUnreadWindow();
    };
  }

  /** A reader took bytes: the body goes on if it waited for them. */
  moved(): void {
    if (this.live?.held) this.regulate();
  }

  /**
   * Whether there are readers reading from memory (not those already reading the file, who wait for
   * the writes either way) and they all still have what they have not read there, a MiB to spare.
   */
  private readersKeepUp(): boolean {
    const windowStart = this.recent[0]?.offset ?? this.received;
    let trail = Infinity;
    for (const cursor of this.cursors) if (cursor.position >= windowStart) trail = Math.min(trail, cursor.position);
    return trail !== Infinity && this.received - trail <= this.memory().window - (1 << 20);
  }

  /**
   * Whether a reader reads from memory, for the writes to let go of the body. Not whether it keeps up:
   * a reader that sets the pace is always about a chunk short of that (the body goes on as soon as it
   * is back within reach, and the next chunk, up to a block, puts it just outside), so the writes would
   * hold on until the body's end, and its last byte would wait for them.
   */
  private readersInMemory(): boolean {
    const windowStart = this.recent[0]?.offset ?? this.received;
    for (const cursor of this.cursors) if (cursor.position >= windowStart) return true;
    return false;
  }

  /**
   * Once the body is complete, the window is kept only for readers still reading from it: while the
   * writes go on from a second request, its blocks would otherwise stay beside that request's.
   */
  private dropUnreadWindow(): void {
    if (!this.complete || this.readersInMemory() || this.recent.length === 0) return;
    this.recent = [];
    this.recentSize = 0;
    this.releaseBlocks();
  }

  /** Whether a reader reading from memory is about to lose bytes it has not read. */
  private readerFallsBehind(): boolean {
    const windowStart = this.recent[0]?.offset ?? this.received;
    const reach = this.memory().window - (1 << 20);
    for (const cursor of this.cursors) if (cursor.position >= windowStart && this.received - cursor.position > reach) return true;
    return false;
  }

  /** Pauses or resumes the body: for the hashing thread, the writes and the readers (PACE_MS). */
  private regulate(): void {
    const live = this.live;
    if (!live) return;
    // Attached, the writes hold the body back once they are behind by what memory keeps for readers,
    // unless readers keep up and the writes may let go (a reader out of memory would wait for the
    // writes anyway); let go, the body waits only for a reader that would otherwise have to wait for
    // the disk.
    const { window, lag } = this.memory();
    const writesBehind = live.fed - this.written > window - (1 << 20);
    const held =
      this.detachedAt === undefined ? writesBehind && (lag === undefined || !this.readersKeepUp()) : !this.unpaced && this.readerFallsBehind();
    // One timer at a time sees whether a reader held the body PACE_MS without a break (a reader at the
    // edge of the window holds and lets go all the time: a timer each time is garbage for the GC).
    if (held && this.detachedAt !== undefined) {
      live.heldSince ??= performance.now();
      if (!live.timer) this.watchHold(live, PACE_MS);
    } else {
      live.heldSince = undefined;
    }
    live.held = held;
    const pause = held || live.hashBehind;
    if (pause === live.paused) return;
    live.paused = pause;
    if (pause) live.body.pause();
    else live.body.resume();
  }

  private watchHold(live: LiveBody, delay: number): void {
    live.timer = setTimeout(() => {
      live.timer = undefined;
      if (live.heldSince === undefined) return;
      const held = performance.now() - live.heldSince;
      if (held < PACE_MS) return this.watchHold(live, PACE_MS - held);
      this.unpaced = true;
      this.regulate();
    }, delay);
  }

  private remember(bytes: Uint8Array): void {
    this.recent.push({ offset: this.received, bytes });
    this.received += bytes.length;
    this.recentSize += bytes.length;
    // At least the window stays: a chunk leaves only when the rest still covers it. Chunks are up to a
    // block (1 MiB), and a reader held back at a MiB short of the window must still be in it.
    const { window } = this.memory();
    while (this.recent.length > 1 && this.recentSize - (this.recent[0]?.bytes.length ?? 0) >= window) {
      this.recentSize -= this.recent.shift()?.bytes.length ?? 0;
    }
  }

  /**
   * Notes that bytes (ending at body offset end) hold their block: in the readers' window when
   * windowed, and until written when toFile (the file's writes were given them).
   */
  private track(bytes: Uint8Array, end: number, windowed: boolean, toFile: boolean): void {
    if (!this.pool.owns(bytes.buffer)) return;
    let last = this.blocks[this.blocks.length - 1];
    if (last?.memory !== bytes.buffer) {
      last = { memory: bytes.buffer, windowEnd: 0, fileEnd: 0 };
      this.blocks.push(last);
    }
    if (windowed) last.windowEnd = end;
    if (toFile) last.fileEnd = end;
  }

  /**
   * Gives back the blocks nothing holds any more: out of the readers' window and written. The newest
   * is the transport's to fill until its body ends; at the end (all), every block goes back.
   */
  private releaseBlocks(all = false): void {
    const windowStart = this.recent[0]?.offset ?? this.received;
    const newest = this.blocks.length - 1;
    let kept = 0;
    for (let index = 0; index <= newest; index++) {
      const block = this.blocks[index] as BlockUse;
      if (all || (index < newest && block.windowEnd <= windowStart && block.fileEnd <= this.written)) this.pool.give(block.memory);
      else this.blocks[kept++] = block;
    }
    this.blocks.length = kept;
  }

  private resetChange(): void {
    this.changed = new Promise<void>((resolve) => (this.signalChange = resolve));
  }

  private notify(): void {
    const signal = this.signalChange;
    this.resetChange();
    signal();
  }

  /**
   * Notifies once the event loop has taken in what the sockets hold: readers wake once per turn for
   * all the chunks it brought (a 64 KiB socket read each), not once per chunk.
   */
  private notifySoon(): void {
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    setImmediate(() => {
      this.notifyScheduled = false;
      this.notify();
    });
  }

  private async run(store: Store, digest: Digest, open: OpenSource, started: () => void, onStored: (info: BlobInfo) => Promise<void>) {
    let writer: BlobWriter | undefined;
    let received: RunningDigest | undefined;
    try {
      const source = await open(0);
      this.size = source.size;
      writer = await store.blobWriter({ algorithm: digest.algorithm, hash: false });
      this.tempPath = writer.path;
      started();
      received = store.digester(digest.algorithm);
      const { writing } = await this.receive(source, writer, received, digest);
      if (this.size !== undefined && this.size !== this.received) {
        throw new RegistryError('BAD_GATEWAY', `upstream ${source.host} announced ${this.size} bytes of ${digest.text} and sent ${this.received}`, {
          detail: { upstream: source.host },
        });
      }
      if (this.detachedAt === undefined) await check(received, digest, source.host, this.received);
      this.complete = true;
      this.notify();
      this.dropUnreadWindow();
      if (this.detachedAt !== undefined) await this.catchUp(open, writer, writing, received, digest, source.host);
      // Checked above, from the bytes as they were written: the writer keeps them under that digest.
      const info = await writer.commit(digest);
      await onStored(info);
      this.result = info;
      this.state = 'done';
      return info;
    } catch (error) {
      this.error = error;
      this.failedUnheard = this.followed && this.cursors.size === 0 && !this.complete;
      this.state = 'failed';
      throw error;
    } finally {
      received?.close();
      if (this.state !== 'done') await writer?.cancel().catch(() => undefined);
      // No write is in flight by now, and readers copy what they take: every block may go back.
      this.recent = [];
      this.recentSize = 0;
      this.releaseBlocks(true);
      started();
      this.notify();
    }
  }

  /**
   * Reads the body to its end: into memory for readers, and to the file and the running digest until
   * the writes fall behind. Resolves once the body ended and, while the writes kept up, all of it is
   * written; when they fell behind (detachedAt), with the writes still under way and the digest at
   * detachedAt.
   */
  private async receive(source: BlobSource, writer: BlobWriter, received: RunningDigest, digest: Digest): Promise<{ writing: Promise<number> }> {
    const { body } = source;
    const feed = new Readable({ read() {} });
    const live: LiveBody = { body, fed: 0, hashBehind: false, held: false, paused: false };
    this.live = live;
    const writing = writer.write(feed, (end) => {
      this.written = end;
      this.releaseBlocks();
      this.notify(); // for readers waiting for bytes that left memory before they reached the disk
      if (live.held) this.regulate();
    });
    const onData = (chunk: Uint8Array) => {
      if (chunk.length === 0) return;
      this.remember(chunk);
      this.track(chunk, this.received, true, this.detachedAt === undefined);
      this.releaseBlocks();
      this.notifySoon();
      if (this.detachedAt === undefined) {
        if (!received.update(chunk)) {
          live.hashBehind = true;
          void received.drained().then(() => {
            live.hashBehind = false;
            this.regulate();
          });
        }
        feed.push(chunk);
        live.fed += chunk.length;
        // The writes are far behind while readers read from memory: they stop following the body.
        const { lag } = this.memory();
        if (lag !== undefined && live.fed - this.written > lag && this.readersInMemory()) {
          this.detachedAt = live.fed;
          live.hashBehind = false; // the digest waits for the second request now
          feed.push(null);
        }
      }
      this.regulate();
    };
    body.on('data', onData);
    // Once the writes fell behind, the body goes on without them: their promise is awaited later.
    writing.catch(() => undefined);
    try {
      await finished(body);
      if (this.detachedAt === undefined) feed.push(null);
    } catch (error) {
      body.destroy(); // nothing will read the rest
      feed.destroy();
      await writing.catch(() => undefined); // no write in flight once it settles: the file may go
      const message = error instanceof Error ? error.message : String(error);
      throw new RegistryError('BAD_GATEWAY', `upstream ${source.host} cut ${digest.text} off after ${this.received} bytes: ${message}`, {
        detail: { upstream: source.host },
      });
    } finally {
      body.off('data', onData);
      clearTimeout(live.timer);
      this.live = undefined;
    }
    if (this.detachedAt === undefined) await writing;
    return { writing };
  }

  /**
   * The file's writes fell behind: the rest of the blob from a second request, into the file and the
   * running digest (which stopped where the writes did), which then checks the whole file. When they
   * let go at the body's last chunk, they were given every byte and nothing is asked for (a Range
   * from the blob's size is unsatisfiable: distribution answers 416).
   */
  private async catchUp(open: OpenSource, writer: BlobWriter, writing: Promise<number>, running: RunningDigest, digest: Digest, host: string): Promise<void> {
    await writing;
    const from = this.detachedAt ?? 0;
    if (from === this.received) return check(running, digest, host, this.written);
    const source = await open(from);
    const skip = from - source.start;
    // The body goes at the pace of the writes and of the hash, whichever is slower: on a disk that
    // has the pages, the writes outrun the hash, and its slabs would pile up unbounded.
    let end = from;
    // kept: what of the chunk is the blob's from `from` on (less when a 200 is skipped up to it).
    const take = (chunk: Uint8Array, kept: Uint8Array) => {
      this.track(chunk, (end += kept.length), false, kept.length > 0);
      return kept.length === 0 || running.update(kept);
    };
    try {
      await writer.write(skipped(source.body, skip, take, running), (end) => {
        this.written = end;
        this.releaseBlocks();
        this.notify();
      });
    } catch (error) {
      source.body.destroy();
      const message = error instanceof Error ? error.message : String(error);
      throw new RegistryError('BAD_GATEWAY', `upstream ${source.host} failed the rest of ${digest.text} from ${from}: ${message}`, {
        detail: { upstream: source.host },
      });
    }
    if (this.written !== this.received) {
      throw new RegistryError('BAD_GATEWAY', `upstream ${source.host} sent ${this.written - from} bytes of ${digest.text} from ${from}, not ${this.received - from}`, {
        detail: { upstream: source.host },
      });
    }
    await check(running, digest, source.host, this.written);
  }
}

/** Checks a running digest against the blob's; BAD_GATEWAY when the upstream sent other bytes. */
async function check(running: RunningDigest, digest: Digest, host: string, size: number): Promise<void> {
  const hex = await running.digest();
  if (hex === digest.hex) return;
  const actual = `${digest.algorithm}:${hex}`;
  throw new RegistryError('BAD_GATEWAY', `upstream ${host} sent a blob that does not match ${digest.text} (got ${actual}, ${size} bytes)`, {
    detail: { upstream: host, expected: digest.text, actual },
  });
}

/**
 * The body from skip bytes on (skip > 0: the upstream ignored a Range); each chunk goes to take with
 * the part of it that is kept, and the next is read once digest has room for it.
 */
async function* skipped(body: Readable, skip: number, take: (chunk: Uint8Array, kept: Uint8Array) => boolean, digest: RunningDigest): AsyncIterable<Uint8Array> {
  for await (const whole of body as AsyncIterable<Uint8Array>) {
    const dropped = Math.min(skip, whole.length);
    skip -= dropped;
    const chunk = dropped > 0 ? whole.subarray(dropped) : whole;
    if (!take(whole, chunk)) await digest.drained();
    if (chunk.length > 0) yield chunk;
  }
}
