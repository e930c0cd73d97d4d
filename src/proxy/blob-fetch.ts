// One upstream blob fetch, written to a temp file in the store while any number of clients read along
// from that file. The fetch runs to the end whatever its readers do (a client hanging up does not stop
// it); the digest is checked before the file is renamed into the store, and readers hold back the last
// byte until then, so no client ever receives a complete body that does not match its digest.
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

/** How much of the most recently written data is kept in memory, so readers close behind need no disk read. */
const RECENT_BYTES = 16 << 20;

export class BlobFetch {
  /** The file the blob is written to while it is fetched (known once started settles). */
  tempPath = '';
  state: State = 'running';
  /** Bytes on disk in the temp file, readable by readers. */
  written = 0;
  size?: number;
  error?: unknown;
  result?: BlobInfo;
  /** Settles when the blob is in the store (or the fetch failed). */
  readonly done: Promise<BlobInfo>;
  /** Settles when the upstream answered (size known) or the fetch failed. */
  readonly started: Promise<void>;
  /** The last chunks written, with their offsets: readers keeping up take bytes from here. */
  private recent: { offset: number; bytes: Uint8Array }[] = [];
  private recentSize = 0;
  private changed!: Promise<void>;
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

  /** How far readers may read: everything once stored, else all but the last byte written. */
  readableLimit(): number {
    if (this.state === 'done') return this.written;
    return Math.max(0, this.written - 1);
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

  private remember(chunks: readonly Uint8Array[], offset: number): void {
    let at = offset;
    for (const bytes of chunks) {
      this.recent.push({ offset: at, bytes });
      at += bytes.length;
      this.recentSize += bytes.length;
    }
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

  private async run(store: Store, digest: Digest, open: () => Promise<BlobSource>, started: () => void, onStored: (info: BlobInfo) => Promise<void>) {
    let writer: BlobWriter | undefined;
    try {
      const source = await open();
      this.size = source.size;
      writer = await store.blobWriter({ algorithm: digest.algorithm });
      this.tempPath = writer.path;
      started();
      try {
        await writer.write(source.body, (end, chunks) => {
          this.remember(chunks, this.written);
          this.written = end;
          this.notify();
        });
      } catch (error) {
        const cutOff = source.body.errored === error || (error as { code?: unknown }).code === 'ERR_STREAM_PREMATURE_CLOSE';
        source.body.destroy(); // the writer only pauses it; nothing will read the rest
        if (!cutOff) throw error; // the store's side: a failed write
        const message = error instanceof Error ? error.message : String(error);
        throw new RegistryError('BAD_GATEWAY', `upstream ${source.host} cut ${digest.text} off after ${this.written} bytes: ${message}`, {
          detail: { upstream: source.host },
        });
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
