// One upstream blob fetch, written to a temp file in the store while any number of clients read along.
// Readers take the bytes from memory as they arrive from the upstream (not once they are on disk, so a
// client never waits for the store's writes), and from the temp file when they fall behind. The fetch
// runs to the end whatever its readers do (a client hanging up does not stop it); the digest is checked
// before the file is renamed into the store, and readers hold back the last byte until then, so no
// client ever receives a complete body that does not match its digest.
import type { Readable } from 'node:stream';
import { RegistryError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import type { BlobInfo, BlobWriter, Store } from '../store/store.js';
import { DigestMismatch } from '../store/errors.js';

export interface BlobSource {
  /** Byte count the upstream announced, when it did. */
  size?: number;
  body: Readable;
  /** For messages: the upstream host. */
  host: string;
}

type State = 'running' | 'done' | 'failed';

/**
 * How much of the most recently received data is kept in memory, so readers close behind need no disk
 * read. It covers what receiveToFile holds while a write is in flight (up to 4 MiB waiting and the
 * batch being written), so a reader that keeps up never waits for the disk; more only raises the peak
 * RSS (8 fetches at once hold 8 windows).
 */
const RECENT_BYTES = 8 << 20;

export class BlobFetch {
  /** The file the blob is written to while it is fetched (known once started settles). */
  tempPath = '';
  state: State = 'running';
  /** Bytes received from the upstream so far: readers may read them from memory while they are recent. */
  received = 0;
  /** Bytes on disk in the temp file: readers too far behind for memory read them there. */
  written = 0;
  size?: number;
  error?: unknown;
  result?: BlobInfo;
  /** Settles when the blob is in the store (or the fetch failed). */
  readonly done: Promise<BlobInfo>;
  /** Settles when the upstream answered (size known) or the fetch failed. */
  readonly started: Promise<void>;
  /** The last chunks received, with their offsets: readers keeping up take bytes from here. */
  private recent: { offset: number; bytes: Uint8Array }[] = [];
  private recentSize = 0;
  private changed!: Promise<void>;
  private notifyScheduled = false;
  private signalChange!: () => void;

  constructor(store: Store, digest: Digest, open: () => Promise<BlobSource>, onStored: (info: BlobInfo) => Promise<void>) {
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

  /** How far readers may read: everything once stored, else all but the last byte received. */
  readableLimit(): number {
    if (this.state === 'done') return this.written;
    return Math.max(0, this.received - 1);
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

  private remember(bytes: Uint8Array): void {
    this.recent.push({ offset: this.received, bytes });
    this.received += bytes.length;
    this.recentSize += bytes.length;
    while (this.recentSize > RECENT_BYTES && this.recent.length > 1) {
      this.recentSize -= this.recent.shift()?.bytes.length ?? 0;
    }
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

  private async run(store: Store, digest: Digest, open: () => Promise<BlobSource>, started: () => void, onStored: (info: BlobInfo) => Promise<void>) {
    let writer: BlobWriter | undefined;
    try {
      const source = await open();
      this.size = source.size;
      writer = await store.blobWriter({ algorithm: digest.algorithm });
      this.tempPath = writer.path;
      started();
      // The writer reads the body through 'data' events too: both listeners see every chunk, in
      // order, and its pause() (the disk is behind) holds back this one as well.
      const onData = (chunk: Uint8Array) => {
        if (chunk.length === 0) return;
        this.remember(chunk);
        this.notifySoon();
      };
      source.body.on('data', onData);
      try {
        await writer.write(source.body, (end) => {
          this.written = end;
          this.notify(); // for readers waiting for bytes that left memory before they reached the disk
        });
      } catch (error) {
        const cutOff = source.body.errored === error || (error as { code?: unknown }).code === 'ERR_STREAM_PREMATURE_CLOSE';
        source.body.destroy(); // the writer only pauses it; nothing will read the rest
        if (!cutOff) throw error; // the store's side: a failed write
        const message = error instanceof Error ? error.message : String(error);
        throw new RegistryError('BAD_GATEWAY', `upstream ${source.host} cut ${digest.text} off after ${this.received} bytes: ${message}`, {
          detail: { upstream: source.host },
        });
      } finally {
        source.body.off('data', onData);
      }
      if (this.size !== undefined && this.size !== this.written) {
        throw new RegistryError('BAD_GATEWAY', `upstream ${source.host} announced ${this.size} bytes of ${digest.text} and sent ${this.written}`, {
          detail: { upstream: source.host },
        });
      }
      let info: BlobInfo;
      try {
        info = await writer.commit(digest);
      } catch (error) {
        if (!(error instanceof DigestMismatch)) throw error;
        throw new RegistryError('BAD_GATEWAY', `upstream ${source.host} sent a blob that does not match ${digest.text} (got ${error.actual.text}, ${this.written} bytes)`, {
          detail: { upstream: source.host, expected: digest.text, actual: error.actual.text },
        });
      }
      await onStored(info);
      this.result = info;
      this.state = 'done';
      return info;
    } catch (error) {
      this.error = error;
      this.state = 'failed';
      throw error;
    } finally {
      if (this.state !== 'done') await writer?.cancel().catch(() => undefined);
      this.recent = [];
      this.recentSize = 0;
      started();
      this.notify();
    }
  }
}
