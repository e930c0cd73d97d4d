// Checks a store directory from the outside, as a crash or a full disk may have left it: every blob
// hashes to its name, every tag points at a manifest that is there, and tmp/ holds only what a running
// process may still be writing.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface StoreReport {
  blobs: number;
  /** Blobs whose content does not hash to their path: must always be empty. */
  corrupt: string[];
  tags: number;
  /** `<repository>:<tag> -> <digest>` for tags whose manifest revision or bytes are missing. */
  dangling: string[];
}

async function entries(dir: string): Promise<import('node:fs').Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export async function hashFile(file: string, algorithm = 'sha256'): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

/** Walks blobs/ (hashing every file) and every repository's tags. */
export async function inspectStore(storeDir: string): Promise<StoreReport> {
  const report: StoreReport = { blobs: 0, corrupt: [], tags: 0, dangling: [] };
  const blobs = path.join(storeDir, 'blobs');
  for (const algorithm of await entries(blobs)) {
    for (const prefix of await entries(path.join(blobs, algorithm.name))) {
      for (const blob of await entries(path.join(blobs, algorithm.name, prefix.name))) {
        report.blobs++;
        const file = path.join(blobs, algorithm.name, prefix.name, blob.name);
        const ok = blob.isFile() && blob.name.startsWith(prefix.name) && (await hashFile(file, algorithm.name)) === blob.name;
        if (!ok) report.corrupt.push(`${algorithm.name}:${blob.name}`);
      }
    }
  }
  const walk = async (dir: string, name: string): Promise<void> => {
    for (const entry of await entries(dir)) {
      if (!entry.isDirectory()) continue;
      if (entry.name === '_tags') {
        for (const tag of await entries(path.join(dir, '_tags'))) {
          report.tags++;
          const text = (await fs.readFile(path.join(dir, '_tags', tag.name), 'utf8')).trim();
          const [algorithm = '', hex = ''] = text.split(':');
          const revision = path.join(dir, '_manifests', algorithm, hex);
          const bytes = path.join(blobs, algorithm, hex.slice(0, 2), hex);
          if (!hex || !(await exists(revision)) || !(await exists(bytes))) report.dangling.push(`${name}:${tag.name} -> ${text}`);
        }
      } else if (!entry.name.startsWith('_')) {
        await walk(path.join(dir, entry.name), name ? `${name}/${entry.name}` : entry.name);
      }
    }
  };
  await walk(path.join(storeDir, 'repositories'), '');
  return report;
}

/** Asserts no corrupt blob and no dangling tag; returns the report for further checks. */
export async function assertStoreIntact(storeDir: string, what: string): Promise<StoreReport> {
  const report = await inspectStore(storeDir);
  assert.deepEqual(report.corrupt, [], `${what}: blobs whose content does not match their digest`);
  assert.deepEqual(report.dangling, [], `${what}: tags pointing at a missing manifest`);
  return report;
}

/** The entries of tmp/ (names only), sorted. */
export async function tmpEntries(storeDir: string): Promise<string[]> {
  return (await entries(path.join(storeDir, 'tmp'))).map((entry) => entry.name).sort();
}

/** The size of the largest entry in tmp/ written by pid (0 when there is none). */
export async function largestTemp(storeDir: string, pid: number): Promise<number> {
  let largest = 0;
  for (const name of await tmpEntries(storeDir)) {
    if (!name.startsWith(`${pid}-`)) continue;
    const stat = await fs.stat(path.join(storeDir, 'tmp', name)).catch(() => undefined);
    largest = Math.max(largest, stat?.size ?? 0);
  }
  return largest;
}

/** Polls check every pauseMs until it holds or timeoutMs passes; returns whether it held. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, pauseMs = 20): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
}
