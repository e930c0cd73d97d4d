// Upload sessions on disk: uploads/<uuid>/data holds the bytes so far, info.json who they belong to.
// A running hash is kept in memory as a shortcut; after a restart the data file is hashed again.
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomUUID, createHash, type Hash } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { RegistryError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import type { BlobInfo, Store } from './store.js';
import { digestFromHash } from './store.js';
import { HashingStream } from './hashing.js';
import { isMissing, readTextIfExists, tempPath, writeFileAtomic } from './atomic.js';

const UUID = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

export interface UploadInfo {
  repository: string;
  startedAt: string;
}

interface RunningHash {
  hash: Hash;
  offset: number;
}

export class Uploads {
  private readonly hashes = new Map<string, RunningHash>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async start(repository: string): Promise<string> {
    const uuid = randomUUID();
    const dir = this.store.layout.upload(uuid);
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, 'data'), '');
    const info: UploadInfo = { repository, startedAt: this.now().toISOString() };
    await writeFileAtomic(this.store.layout, path.join(dir, 'info.json'), JSON.stringify(info));
    this.hashes.set(uuid, { hash: createHash('sha256'), offset: 0 });
    return uuid;
  }

  /** The number of bytes received so far; BLOB_UPLOAD_UNKNOWN unless the session is the repository's. */
  async size(repository: string, uuid: string): Promise<number> {
    await this.requireSession(repository, uuid);
    try {
      return (await fs.stat(this.dataPath(uuid))).size;
    } catch (error) {
      // Finished or cancelled by a concurrent request between the two reads.
      if (isMissing(error)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${uuid} is not known to this repository`);
      throw error;
    }
  }

  /**
   * Appends a chunk. With a start offset (from Content-Range) it must continue exactly where the data
   * ends, else RANGE_INVALID. A chunk that fails half-way is cut off again, so the session stays whole.
   */
  async append(repository: string, uuid: string, body: AsyncIterable<Uint8Array>, start?: number): Promise<number> {
    return this.exclusive(uuid, async () => {
      const before = await this.size(repository, uuid);
      if (start !== undefined && start !== before) {
        throw new RegistryError('RANGE_INVALID', `chunk starts at ${start} but the upload has ${before} bytes`, {
          headers: { Range: rangeHeader(before) },
          detail: { expectedStart: before },
        });
      }
      const running = this.hashes.get(uuid);
      const hashing = running && running.offset === before ? running : undefined;
      const counter = new HashingStream(hashing ? [hashing.hash] : []);
      try {
        await pipeline(body, counter, createWriteStream(this.dataPath(uuid), { flags: 'a', highWaterMark: 1 << 20 }));
      } catch (error) {
        await fs.truncate(this.dataPath(uuid), before).catch(() => undefined);
        this.hashes.delete(uuid);
        throw error;
      }
      const size = before + counter.size;
      if (hashing) hashing.offset = size;
      else this.hashes.delete(uuid);
      return size;
    });
  }

  /** Verifies the upload against the digest and moves it into the blob store; the session ends either way. */
  async finish(repository: string, uuid: string, expected: Digest): Promise<BlobInfo> {
    return this.exclusive(uuid, async () => {
      const size = await this.size(repository, uuid);
      try {
        const running = this.hashes.get(uuid);
        const hex =
          running && running.offset === size && expected.algorithm === 'sha256'
            ? running.hash.digest('hex')
            : await hashFile(this.dataPath(uuid), expected.algorithm);
        const actual = digestFromHash(expected.algorithm, hex);
        if (actual.text !== expected.text) {
          throw new RegistryError('DIGEST_INVALID', `upload digest ${actual.text} does not match ${expected.text}`, {
            detail: { expected: expected.text, actual: actual.text },
          });
        }
        const temp = tempPath(this.store.layout);
        await fs.rename(this.dataPath(uuid), temp);
        return await this.store.adoptFile(temp, actual, size);
      } finally {
        await this.remove(uuid);
      }
    });
  }

  async cancel(repository: string, uuid: string): Promise<void> {
    await this.requireSession(repository, uuid);
    await this.remove(uuid);
  }

  private async remove(uuid: string): Promise<void> {
    this.hashes.delete(uuid);
    await fs.rm(this.store.layout.upload(uuid), { recursive: true, force: true });
  }

  private async requireSession(repository: string, uuid: string): Promise<UploadInfo> {
    const unknown = new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${uuid.slice(0, 64)} is not known to this repository`);
    if (!UUID.test(uuid)) throw unknown;
    const text = await readTextIfExists(path.join(this.store.layout.upload(uuid), 'info.json'));
    if (text === undefined) throw unknown;
    let info: UploadInfo;
    try {
      info = JSON.parse(text) as UploadInfo;
    } catch {
      throw unknown; // a session file cut short by a crash: nothing to continue
    }
    if (info?.repository !== repository) throw unknown;
    return info;
  }

  private dataPath(uuid: string): string {
    return path.join(this.store.layout.upload(uuid), 'data');
  }

  /** Runs work for one upload at a time, so concurrent chunks cannot interleave. */
  private async exclusive<T>(uuid: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(uuid) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.locks.set(uuid, next);
    try {
      return await next;
    } finally {
      if (this.locks.get(uuid) === next) this.locks.delete(uuid);
    }
  }
}

/** The Range header of an upload holding size bytes, as registries write it. */
export function rangeHeader(size: number): string {
  return `0-${Math.max(0, size - 1)}`;
}

async function hashFile(file: string, algorithm: Digest['algorithm']): Promise<string> {
  const hash = createHash(algorithm);
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  } catch (error) {
    if (isMissing(error)) throw new RegistryError('BLOB_UPLOAD_UNKNOWN', 'upload data is missing');
    throw error;
  }
  return hash.digest('hex');
}
