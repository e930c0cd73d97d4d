// Streams tar entries into the store as blobs and remembers which ones this import added, so a failed
// import can remove exactly those (blobs that were there before stay) and a successful one can drop
// the ones nothing references.
import fs from 'node:fs/promises';
import { createHash, type Hash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { openTemp } from '../../store/atomic.js';
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
    const hash: Hash | undefined = claimed && !this.verify ? undefined : createHash(algorithm);
    const temp = openTemp(this.store.layout);
    let size = 0;
    let head: Buffer | undefined;
    try {
      await pipeline(async function* () {
        for await (const chunk of source) {
          hash?.update(chunk);
          size += chunk.length;
          if (!head || head.length < 2) head = Buffer.concat([head ?? Buffer.alloc(0), chunk.subarray(0, 2)]);
          yield chunk;
        }
      }, temp.stream);
      const digest = hash ? digestFromHash(algorithm, hash.digest('hex')) : (claimed as Digest);
      if (claimed && digest.text !== claimed.text) {
        throw new ImportError(`${what}: content has digest ${shortDigest(digest)}, not the ${shortDigest(claimed)} its name claims`);
      }
      if (await this.store.blobInfo(digest)) {
        await fs.rm(temp.path, { force: true });
      } else {
        await this.store.adoptFile(temp.path, digest, size);
        this.added.set(digest.text, digest);
      }
      return { digest, size, gzip: head !== undefined && head[0] === 0x1f && head[1] === 0x8b };
    } finally {
      await fs.rm(temp.path, { force: true });
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
