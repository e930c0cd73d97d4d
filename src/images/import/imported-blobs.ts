// Streams tar entries into the store as blobs and remembers which ones this import added, so a failed
// import can remove exactly those (blobs that were there before stay) and a successful one can drop
// the ones nothing references.
import type { Store } from '../../store/store.js';
import { DigestMismatch } from '../../store/errors.js';
import { elidedDigest, type Digest } from '../../oci/digest.js';
import { ImportError, type TarFile } from './types.js';

export class ImportedBlobs {
  private readonly added = new Map<string, Digest>();

  constructor(
    readonly store: Store,
    private readonly verify: boolean,
  ) {}

  /**
   * Streams source into the store. With a claimed digest (an OCI blobs/<alg>/<hex> path) the content
   * must match it unless verification is off, in which case it is stored under the claim as-is.
   * Without one, sha256 of the content names it.
   */
  async ingest(source: AsyncIterable<Buffer>, what: string, claimed?: Digest): Promise<TarFile> {
    let head = Buffer.alloc(0);
    const sniff = (_end: number, chunks: readonly Uint8Array[]) => {
      for (const chunk of chunks) {
        if (head.length >= 2) break;
        head = Buffer.concat([head, chunk.subarray(0, 2 - head.length)]);
      }
    };
    const writer = await this.store.blobWriter({ algorithm: claimed?.algorithm, hash: !(claimed && !this.verify) });
    try {
      await writer.write(source, sniff);
      const blob = await writer.commit(claimed);
      if (blob.created) this.added.set(blob.digest.text, blob.digest);
      return { digest: blob.digest, size: blob.size, gzip: head[0] === 0x1f && head[1] === 0x8b };
    } catch (error) {
      if (error instanceof DigestMismatch) {
        throw new ImportError(`${what}: content has digest ${elidedDigest(error.actual)}, not the ${elidedDigest(error.expected)} its name claims`);
      }
      throw error;
    } finally {
      await writer.cancel();
    }
  }

  /** Whether this import added the blob (it was not in the store before). */
  isNew(digest: Digest): boolean {
    return this.added.has(digest.text);
  }

  get addedCount(): number {
    return this.added.size;
  }

  /** Removes every blob this import added: the store is as it was for blobs. */
  async rollback(): Promise<void> {
    await this.removeAddedExcept(new Set());
  }

  /** Removes the blobs this import added that the committed plan does not reference. */
  async removeAddedExcept(keep: ReadonlySet<string>): Promise<number> {
    let removed = 0;
    for (const [text, digest] of this.added) {
      if (keep.has(text)) continue;
      await this.store.removeBlob(digest);
      this.added.delete(text);
      removed++;
    }
    return removed;
  }
}
