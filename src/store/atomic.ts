// Atomic writes: everything is written to a temp file inside the store, then renamed into place.
import { createWriteStream, type WriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { StoreLayout } from './layout.js';

/** A temp file in the store's tmp/ directory, named after this process so a restart can tell it is stale. */
export function tempPath(layout: StoreLayout): string {
  return path.join(layout.tmp(), `${process.pid}-${randomBytes(8).toString('hex')}`);
}

/** Writes data to target atomically: readers see either the old file or the complete new one. */
export async function writeFileAtomic(layout: StoreLayout, target: string, data: string | Uint8Array): Promise<void> {
  const temp = tempPath(layout);
  try {
    await fs.writeFile(temp, data);
    await moveIntoPlace(temp, target);
  } catch (error) {
    await fs.rm(temp, { force: true });
    throw error;
  }
}

/** Renames a complete temp file to its final place, creating parent directories as needed. */
export async function moveIntoPlace(temp: string, target: string): Promise<void> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  await fs.rename(temp, target);
}

export function openTemp(layout: StoreLayout): { path: string; stream: WriteStream } {
  const temp = tempPath(layout);
  return { path: temp, stream: createWriteStream(temp, { flags: 'wx', highWaterMark: 1 << 20 }) };
}

/** Removes temp files left by processes that are no longer running (a crash, a kill -9). */
export async function removeStaleTemps(layout: StoreLayout): Promise<number> {
  let removed = 0;
  const entries = await fs.readdir(layout.tmp()).catch(() => [] as string[]);
  for (const entry of entries) {
    const pid = Number(entry.split('-')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && isRunning(pid)) continue;
    if (pid === process.pid) continue;
    await fs.rm(path.join(layout.tmp(), entry), { force: true, recursive: true });
    removed++;
  }
  return removed;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function readTextIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

export function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
