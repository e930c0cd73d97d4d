// Read-only walks over the on-disk layout (layout.ts) for listings (inspect), tolerant of a server
// writing at the same time: anything that vanishes between listing and reading is skipped, never an
// error. Private to the store: others call them through the Store.
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseDigest, type Digest } from '../oci/digest.js';
import { isMissing, readTextIfExists } from './atomic.js';
import type { StoreLayout } from './layout.js';

export interface StoredBlob {
  digest: string;
  size: number;
}

/** A manifest revision of a repository; mediaType null when its revision file cannot be read. */
export interface Revision {
  digest: string;
  mediaType: string | null;
}

/** Every blob under blobs/<alg>/<hh>/<hex>, with its size, sorted by digest. */
export async function listStoredBlobs(layout: StoreLayout): Promise<StoredBlob[]> {
  const root = path.join(layout.root, 'blobs');
  const found: StoredBlob[] = [];
  for (const algorithm of await directories(root)) {
    for (const prefix of await directories(path.join(root, algorithm))) {
      for (const hex of await files(path.join(root, algorithm, prefix))) {
        const digest = parseDigest(`${algorithm}:${hex}`);
        if (!digest) continue;
        const size = await fileSize(layout.blob(digest));
        if (size !== undefined) found.push({ digest: digest.text, size });
      }
    }
  }
  return found.sort((a, b) => compare(a.digest, b.digest));
}

/** The manifest revisions of a repository, sorted by digest. */
export async function listRevisions(layout: StoreLayout, name: string): Promise<Revision[]> {
  const found: Revision[] = [];
  const root = path.join(layout.repository(name), '_manifests');
  for (const algorithm of await directories(root)) {
    for (const hex of await files(path.join(root, algorithm))) {
      const digest = parseDigest(`${algorithm}:${hex}`);
      if (!digest) continue;
      const revision = await readRevision(layout, name, digest);
      if (revision) found.push(revision);
    }
  }
  return found.sort((a, b) => compare(a.digest, b.digest));
}

/** The revision of that digest in the repository, or undefined when the repository does not hold it. */
export async function readRevision(layout: StoreLayout, name: string, digest: Digest): Promise<Revision | undefined> {
  const text = await readTextIfExists(layout.manifestRevision(name, digest));
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as { mediaType?: unknown };
    return { digest: digest.text, mediaType: typeof parsed.mediaType === 'string' ? parsed.mediaType : null };
  } catch {
    return { digest: digest.text, mediaType: null };
  }
}

/** What a tag file says (trimmed), or undefined when the tag does not exist (any more). */
export async function readTag(layout: StoreLayout, name: string, tag: string): Promise<string | undefined> {
  return (await readTextIfExists(layout.tag(name, tag)))?.trim();
}

/** The facts in the repository's _meta.json ({} when there is none), or a problem when it is unreadable. */
export async function readMeta(layout: StoreLayout, name: string): Promise<{ meta: Record<string, unknown>; problem: string | null }> {
  const text = await readTextIfExists(layout.repositoryMeta(name)).catch(() => undefined);
  if (text === undefined) return { meta: {}, problem: null };
  try {
    const meta = JSON.parse(text) as unknown;
    if (typeof meta === 'object' && meta !== null && !Array.isArray(meta)) return { meta: meta as Record<string, unknown>, problem: null };
    return { meta: {}, problem: '_meta.json does not hold an object' };
  } catch {
    return { meta: {}, problem: '_meta.json is not valid JSON' };
  }
}

export async function fileSize(file: string): Promise<number | undefined> {
  try {
    const stat = await fs.stat(file);
    return stat.isFile() ? stat.size : undefined;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

/** Reads a whole blob, or undefined when it is not (or no longer) stored. */
export async function readBlob(layout: StoreLayout, digest: string): Promise<Buffer | undefined> {
  const parsed = parseDigest(digest);
  if (!parsed) return undefined;
  try {
    return await fs.readFile(layout.blob(parsed));
  } catch (error) {
    if (isMissing(error) || (error as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
    throw error;
  }
}

/** Code-point order, so output does not depend on the locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function entries(dir: string) {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isMissing(error)) return [];
    throw error;
  }
}

async function directories(dir: string): Promise<string[]> {
  return (await entries(dir)).filter((entry) => entry.isDirectory()).map((entry) => entry.name);
}

async function files(dir: string): Promise<string[]> {
  return (await entries(dir)).filter((entry) => entry.isFile()).map((entry) => entry.name);
}
