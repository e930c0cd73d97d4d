// Streams tar entries into the store as blobs and remembers which ones this import added, so a failed
// import can remove exactly those (blobs that were there before stay) and a successful one can drop
// the ones nothing references.
import fs from 'node:fs/promises';
import { tempPath } from '../../store/atomic.js';
import { receiveToFile } from '../../store/receive-to-file.js';
import { digestFromHash, type Store } from '../../store/store.js';
import type { Digest } from '../../oci/digest.js';
import { ImportError, shortDigest, type TarFile } from './types.js';

export class BlobSink {
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
    const algorithm = claimed?.algorithm ?? 'sha256';
    const temp = tempPath(this.store.layout);
    let head = Buffer.alloc(0);
    try {
      const file = await fs.open(temp, 'wx');
      const sniff = (_end: number, chunks: readonly Uint8Array[]) => {
        for (const chunk of chunks) {
          if (head.length >= 2) break;
          head = Buffer.concat([head, chunk.subarray(0, 2 - head.length)]);
        }
      };
      let received: { size: number; hex?: string };
      try {
        received =
          claimed && !this.verify
            ? { size: await receiveToFile(source, file, 0, sniff) }
            : await this.store.hasher.receive(source, file, temp, algorithm, sniff);
      } finally {
        await file.close();
      }
      const { size } = received;
      const digest = received.hex === undefined ? (claimed as Digest) : digestFromHash(algorithm, received.hex);
      if (claimed && digest.text !== claimed.text) {
        throw new ImportError(`${what}: content has digest ${shortDigest(digest)}, not the ${shortDigest(claimed)} its name claims`);
      }
      if (await this.store.blobInfo(digest)) {
        await fs.rm(temp, { force: true });
      } else {
        await this.store.adoptFile(temp, digest, size);
        this.added.set(digest.text, digest);
      }
      return { digest, size, gzip: head[0] === 0x1f && head[1] === 0x8b };
    } finally {
      await fs.rm(temp, { force: true });
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
      await fs.rm(this.store.layout.blob(digest), { force: true });
      this.added.delete(text);
      removed++;
    }
    return removed;
  }
}
