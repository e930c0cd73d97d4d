// Upload sessions on disk: uploads/<uuid>/data holds the bytes so far, info.json who they belong to.
// A running hash is kept as a shortcut (a job of the store's FileHasher, fed as chunks are written);
// after a restart, or a chunk that failed, the data file is hashed again, so a
// session survives a restart (or a kill -9) and the client resumes from the Range it is told. Sessions
// untouched for longer than a timeout (default 1h) are removed by expireUploads.
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Digest } from '../oci/digest.js';
import type { BlobInfo, FsStore } from './store.js';
import { KeyedLock, digestFromHash } from './store.js';
import { receiveToFile } from './receive-to-file.js';
import type { HashJob } from './file-hasher.js';
import { isMissing, readTextIfExists, tempPath, writeFileAtomic } from './atomic.js';
import { adoptFile } from './blob-writer.js';
import { DigestMismatch, UploadOffsetMismatch, UploadUnknown } from './errors.js';

const UUID = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

/** Upload sessions untouched for longer than this are expired. */
export const DEFAULT_UPLOAD_TIMEOUT_MS = 60 * 60 * 1000;

export interface UploadsOptions {
  /** A session that received nothing for longer than this is removed by expire(); default 1h. */
  timeoutMs?: number;
}

export interface UploadInfo {
  repository: string;
  startedAt: string;
}

interface RunningHash {
  /** sha256 of the data file's first offset bytes. */
  job: HashJob;
  offset: number;
}

export class Uploads {
  private readonly hashes = new Map<string, RunningHash>();
  private readonly locks = new KeyedLock();

  readonly timeoutMs: number;

  constructor(
    private readonly store: FsStore,
    private readonly now: () => Date = () => new Date(),
    options: UploadsOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_UPLOAD_TIMEOUT_MS;
  }

  /**
   * Removes the sessions untouched for longer than the timeout; each removal waits for a request on
   * that session in progress here, and checks the age again. Returns the uuids removed.
   */
  async expire(): Promise<string[]> {
    return expireUploads(this.store, this.timeoutMs, this.now(), (uuid, work) =>
      this.exclusive(uuid, async () => {
        const gone = await work();
        if (gone) this.dropHash(uuid);
        return gone;
      }),
    );
  }

  /**
   * Expires sessions now (stale ones left by an earlier process included) and then every intervalMs
   * (default a quarter of the timeout, at most 5 minutes). The timer does not keep the process alive.
   * Returns stop(), which clears the timer and waits for a sweep in progress.
   */
  startExpiry(intervalMs = Math.min(this.timeoutMs / 4, 5 * 60 * 1000), onError: (error: unknown) => void = () => undefined): () => Promise<void> {
    let busy = true;
    const run = () => this.expire().catch(onError).finally(() => (busy = false));
    let sweep: Promise<unknown> = run();
    const timer = setInterval(() => {
      if (busy) return; // the last sweep is still going: skip this tick rather than queue another
      busy = true;
      sweep = run();
    }, Math.max(10, intervalMs));
    timer.unref();
    return async () => {
      clearInterval(timer);
      await sweep;
    };
  }

  /** Starts a session; when that fails (a full disk) nothing of it is left behind. */
  async start(repository: string): Promise<string> {
    const uuid = randomUUID();
    const dir = this.store.layout.upload(uuid);
    try {
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(path.join(dir, 'data'), '');
      const info: UploadInfo = { repository, startedAt: this.now().toISOString() };
      await writeFileAtomic(this.store.layout, path.join(dir, 'info.json'), JSON.stringify(info));
    } catch (error) {
      await fs.rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw error;
    }
    this.hashes.set(uuid, { job: this.store.hasher.start(path.join(dir, 'data'), 'sha256'), offset: 0 });
    return uuid;
  }

  /** The number of bytes received so far; UploadUnknown unless the session is the repository's. */
  async size(repository: string, uuid: string): Promise<number> {
    return this.exclusive(uuid, () => this.currentSize(repository, uuid));
  }

  private async currentSize(repository: string, uuid: string): Promise<number> {
    await this.requireSession(repository, uuid);
    try {
      return (await fs.stat(this.dataPath(uuid))).size;
    } catch (error) {
      if (isMissing(error)) throw new UploadUnknown(uuid);
      throw error;
    }
  }

  /**
   * Appends a chunk. With a range (from Content-Range) it must continue exactly where the data ends
   * and end where the range says, else UploadOffsetMismatch and nothing is kept. A chunk that fails
   * half-way is cut off again, so the session stays whole.
   */
  async append(repository: string, uuid: string, body: AsyncIterable<Uint8Array>, range?: { start: number; end?: number }): Promise<number> {
    return this.exclusive(uuid, async () => {
      const before = await this.currentSize(repository, uuid);
      if (range !== undefined && range.start !== before) throw new UploadOffsetMismatch(uuid, before, range.start);
      const running = this.hashes.get(uuid);
      const hashing = running && running.offset === before ? running : undefined;
      if (!hashing) this.dropHash(uuid);
      const file = await fs.open(this.dataPath(uuid), 'r+').catch((error: unknown) => {
        if (isMissing(error)) throw new UploadUnknown(uuid);
        throw error;
      });
      let received: number;
      try {
        received = await receiveToFile(body, file, before, hashing ? (end) => hashing.job.written(end) : undefined);
        if (range?.end !== undefined && before + received - 1 !== range.end) {
          // The chunk was shorter or longer than its Content-Range said: refused, so nothing is kept.
          throw new UploadOffsetMismatch(uuid, before, range.start, range.end, before + received);
        }
      } catch (error) {
        await file.truncate(before).catch(() => undefined);
        this.dropHash(uuid);
        throw error;
      } finally {
        await file.close();
      }
      const size = before + received;
      if (hashing) hashing.offset = size;
      return size;
    });
  }

  /** Verifies the upload against the digest and moves it into the blob store; the session ends either way. */
  async finish(repository: string, uuid: string, expected: Digest): Promise<BlobInfo> {
    return this.exclusive(uuid, async () => {
      const size = await this.currentSize(repository, uuid);
      try {
        const hex = await this.digestData(uuid, size, expected.algorithm);
        const actual = digestFromHash(expected.algorithm, hex);
        if (actual.text !== expected.text) throw new DigestMismatch('upload', expected, actual);
        const temp = tempPath(this.store.layout);
        await fs.rename(this.dataPath(uuid), temp);
        return await adoptFile(this.store.layout, temp, actual, size);
      } finally {
        await this.remove(uuid);
      }
    });
  }

  /** Ends the session, after any request on it in progress (so a finish racing it is told the truth). */
  async cancel(repository: string, uuid: string): Promise<void> {
    await this.exclusive(uuid, async () => {
      await this.requireSession(repository, uuid);
      await this.remove(uuid);
    });
  }

  /** The hex digest of the session's data: the running hash when it covers it all, else the file hashed again. */
  private async digestData(uuid: string, size: number, algorithm: Digest['algorithm']): Promise<string> {
    const running = this.hashes.get(uuid);
    if (running && running.offset === size && algorithm === 'sha256') {
      try {
        return await running.job.digest(size);
      } catch {
        // The hashing thread stopped: hash the file again below.
      }
    }
    this.dropHash(uuid);
    return this.store.hasher.start(this.dataPath(uuid), algorithm).digest(size);
  }

  private dropHash(uuid: string): void {
    this.hashes.get(uuid)?.job.close();
    this.hashes.delete(uuid);
  }

  private async remove(uuid: string): Promise<void> {
    this.dropHash(uuid);
    await fs.rm(this.store.layout.upload(uuid), { recursive: true, force: true });
  }

  private async requireSession(repository: string, uuid: string): Promise<UploadInfo> {
    const unknown = new UploadUnknown(uuid);
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

  /** Runs work for one upload at a time: chunks, finish, cancel and status never interleave. */
  private exclusive<T>(uuid: string, work: () => Promise<T>): Promise<T> {
    return this.locks.run(uuid, work);
  }
}

/**
 * Removes upload sessions (uploads/<uuid>/) that nothing touched for longer than olderThanMs before now:
 * the newest modification time of the session directory, its info.json and its data counts. A session
 * cut short by a crash (no info.json, no data) ages by its directory. Each removal runs through
 * guard (to serialize with requests on the session) and checks the age again inside it.
 * Returns the uuids removed.
 */
export async function expireUploads(
  store: FsStore,
  olderThanMs: number,
  now: Date = new Date(),
  guard: (uuid: string, work: () => Promise<boolean>) => Promise<boolean> = (_uuid, work) => work(),
): Promise<string[]> {
  const entries = await fs.readdir(store.layout.uploads()).catch((error) => {
    if (isMissing(error)) return [] as string[];
    throw error;
  });
  const removed: string[] = [];
  const expired = async (dir: string) => {
    const touched = await lastTouched(dir);
    return touched !== undefined && now.getTime() - touched > olderThanMs;
  };
  for (const uuid of entries) {
    if (!UUID.test(uuid)) continue; // not a session this code made: left alone
    const dir = store.layout.upload(uuid);
    if (!(await expired(dir))) continue;
    const gone = await guard(uuid, async () => {
      if (!(await expired(dir))) return false;
      await fs.rm(dir, { recursive: true, force: true });
      return true;
    });
    if (gone) removed.push(uuid);
  }
  return removed;
}

/** The newest mtime (ms) of a session directory and its files; undefined when the session is gone. */
async function lastTouched(dir: string): Promise<number | undefined> {
  let newest: number | undefined;
  for (const file of [dir, path.join(dir, 'info.json'), path.join(dir, 'data')]) {
    try {
      const { mtimeMs } = await fs.stat(file);
      newest = Math.max(newest ?? 0, mtimeMs);
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }
  return newest;
}
