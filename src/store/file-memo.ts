// Store files read on every pull (tags, manifest revisions, manifest bytes), remembered in memory and
// checked against the file on every use: a stat that shows another inode, size or time means the file
// was replaced (every write renames a new file into place), and it is read again; a missing file is
// missing. So `prepare`, `seed` or a second server writing the same store are seen at once.
//
// The stat is synchronous on purpose: on a local disk it takes microseconds, while a trip through
// libuv's thread pool costs the event loop several times that (before this memo a manifest GET, which
// read three files, ran at a third of the rate of GET /v2/). Contents are still read asynchronously.
import fs from 'node:fs/promises';
import { statSync, type Stats } from 'node:fs';
import { isMissing } from './atomic.js';

interface Entry<T> {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  value: T;
}

export interface FileMemoOptions {
  /** Most files remembered. */
  maxEntries: number;
  /** Most file bytes remembered (the sum of the sizes of the files behind the entries). */
  maxBytes: number;
  /**
   * The files are named by their content (blobs/<alg>/<hex>): once read, a file's contents are right
   * for as long as anyone asks by that name, so a remembered one is not stat'ed again. Whether it is
   * still wanted (the manifest revision, the tag) is what the other memos check.
   */
  contentAddressed?: boolean;
}

export class FileMemo<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private bytes = 0;

  constructor(
    private readonly parse: (contents: Buffer) => T,
    private readonly options: FileMemoOptions,
  ) {}

  /** The parsed contents of file, or undefined when there is no such file. */
  async read(file: string): Promise<T | undefined> {
    const known = this.entries.get(file);
    if (known && this.options.contentAddressed) return known.value;
    const stat = statIfExists(file);
    if (known && stat && sameFile(known, stat)) return known.value;
    if (known) this.forget(file, known);
    if (!stat) return undefined;
    let contents: Buffer;
    try {
      contents = await fs.readFile(file);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    const value = this.parse(contents);
    // The file may have been replaced between the stat and the read: remembering the stat taken
    // before the read means the next use sees a difference and reads again.
    if (contents.length === stat.size) this.remember(file, { ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs, value });
    return value;
  }

  private remember(file: string, entry: Entry<T>): void {
    if (entry.size > this.options.maxBytes) return;
    const previous = this.entries.get(file);
    if (previous) this.forget(file, previous);
    this.entries.set(file, entry);
    this.bytes += entry.size;
    // The oldest entries go first (Map keeps insertion order).
    for (const [oldest, old] of this.entries) {
      if (this.entries.size <= this.options.maxEntries && this.bytes <= this.options.maxBytes) break;
      this.forget(oldest, old);
    }
  }

  private forget(file: string, entry: Entry<T>): void {
    this.entries.delete(file);
    this.bytes -= entry.size;
  }
}

/** stat without the thread pool; undefined when the file (or a directory on its path) is missing. */
export function statIfExists(file: string): Stats | undefined {
  try {
    return statSync(file, { throwIfNoEntry: false });
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

function sameFile(entry: Entry<unknown>, stat: Stats): boolean {
  return entry.ino === stat.ino && entry.size === stat.size && entry.mtimeMs === stat.mtimeMs && entry.ctimeMs === stat.ctimeMs;
}
