// The one way a blob enters the store (as distribution's FileWriter: write, then Commit or Cancel).
// Bytes go to a temp file in the store, hashed on the hashing thread as each range lands; commit
// checks the digest and renames the file into place, so a blob is either whole and verified in the
// store or not there at all. Pushes, generated images, imports and the proxy all write through here.
import fs from 'node:fs/promises';
import type { Algorithm, Digest } from '../oci/digest.js';
import type { StoreLayout } from './layout.js';
import { moveIntoPlace, tempPath } from './atomic.js';
import type { FileHasher, HashJob } from './file-hasher.js';
import { receiveToFile } from './receive-to-file.js';
import { DigestMismatch } from './errors.js';
import type { BlobInfo } from './store.js';

export interface BlobWriterOptions {
  /** The algorithm that names the blob when commit is given no digest; default sha256. */
  algorithm?: Algorithm;
  /**
   * false: nothing is hashed, and commit must be given the digest, which is trusted: for bytes the
   * caller made and hashed itself (generated layers), bytes it hashed as they arrived (the proxy, with
   * Store.digester), or an import with verification off.
   */
  hash?: boolean;
}

export interface CommittedBlob extends BlobInfo {
  /** False when the store already held the blob (the bytes written were dropped). */
  created: boolean;
}

export interface BlobWriter {
  /** The file being written: readers may read what write() reported as written. */
  readonly path: string;
  /** Bytes written so far. */
  readonly size: number;
  /**
   * Appends source to the blob; written(end, chunks) reports each range once it is in the file. On
   * failure the file is cut back to where it was, so the writer may be committed or cancelled.
   */
  write(source: AsyncIterable<Uint8Array>, written?: (end: number, chunks: readonly Uint8Array[]) => void): Promise<number>;
  /** Checks the content against expected (DigestMismatch, nothing kept) and moves it into the store. */
  commit(expected?: Digest): Promise<CommittedBlob>;
  /** Throws the bytes away; does nothing after commit. */
  cancel(): Promise<void>;
}

export async function openBlobWriter(layout: StoreLayout, hasher: FileHasher, options: BlobWriterOptions): Promise<BlobWriter> {
  const path = tempPath(layout);
  const file = await fs.open(path, 'wx');
  return new TempBlobWriter(layout, hasher, path, file, options);
}

class TempBlobWriter implements BlobWriter {
  size = 0;
  private job: HashJob | undefined;
  /** The running hash no longer covers the file (a write failed): commit hashes the file again. */
  private stale = false;
  private finished = false;

  constructor(
    private readonly layout: StoreLayout,
    private readonly hasher: FileHasher,
    readonly path: string,
    private file: fs.FileHandle | undefined,
    private readonly options: BlobWriterOptions,
  ) {
    if (options.hash !== false) this.job = hasher.start(path, options.algorithm ?? 'sha256');
  }

  async write(source: AsyncIterable<Uint8Array>, written?: (end: number, chunks: readonly Uint8Array[]) => void): Promise<number> {
    if (!this.file || this.finished) throw new Error('internal: the blob writer is finished');
    const before = this.size;
    try {
      const received = await receiveToFile(source, this.file, before, (end, chunks) => {
        this.job?.written(end);
        written?.(end, chunks);
      });
      this.size = before + received;
      return received;
    } catch (error) {
      await this.file.truncate(before).catch(() => undefined);
      this.stale = true;
      throw error;
    }
  }

  async commit(expected?: Digest): Promise<CommittedBlob> {
    if (this.finished) throw new Error('internal: the blob writer is finished');
    try {
      await this.closeFile();
      const digest = await this.digest(expected);
      if (expected && expected.text !== digest.text) throw new DigestMismatch('content', expected, digest);
      this.finished = true;
      return await adoptFile(this.layout, this.path, digest, this.size);
    } catch (error) {
      await this.cancel();
      throw error;
    }
  }

  async cancel(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.job?.close();
    await this.closeFile();
    await fs.rm(this.path, { force: true });
  }

  private async digest(expected: Digest | undefined): Promise<Digest> {
    if (this.options.hash === false) {
      if (!expected) throw new Error('internal: a blob written without hashing needs its digest to commit');
      return expected;
    }
    const algorithm = this.options.algorithm ?? 'sha256';
    if (expected && expected.algorithm !== algorithm) throw new Error(`internal: the writer hashes ${algorithm}, not ${expected.algorithm}`);
    const job = this.job;
    this.job = undefined;
    let hex: string | undefined;
    if (job && !this.stale) {
      try {
        hex = await job.digest(this.size);
      } catch {
        // The hashing thread stopped: hash the file again below.
      }
    } else {
      job?.close();
    }
    hex ??= await this.hasher.start(this.path, algorithm).digest(this.size);
    return { algorithm, hex, text: `${algorithm}:${hex}` };
  }

  private async closeFile(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.close();
  }
}

/** Moves a complete, verified file into the blob store, or drops it when the blob is already there. */
export async function adoptFile(layout: StoreLayout, file: string, digest: Digest, size: number): Promise<CommittedBlob> {
  const target = layout.blob(digest);
  const present = await fs.access(target).then(
    () => true,
    () => false,
  );
  if (present) await fs.rm(file, { force: true });
  else await moveIntoPlace(file, target);
  return { digest, size, path: target, created: !present };
}
