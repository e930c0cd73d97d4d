// Atomic writes: everything is written to a temp file inside the store, then renamed into place.
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { StoreLayout } from './layout.js';

/**
 * When this process started, in base 36: part of every temp name, so that a process that got the pid
 * of a dead one (a restarted container is pid 1 again) still tells the dead one's temps from its own.
 */
const PROCESS_START = Math.round(performance.timeOrigin).toString(36);

/** A temp file in the store's tmp/ directory, `<pid>-<start>-<random>`, so a restart can tell it is stale. */
export function tempPath(layout: StoreLayout): string {
  return path.join(layout.tmp(), `${process.pid}-${PROCESS_START}-${randomBytes(8).toString('hex')}`);
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

/** Removes temp files left by processes that are no longer running (a crash, a kill -9). */
export async function removeStaleTemps(layout: StoreLayout): Promise<number> {
  let removed = 0;
  const entries = await fs.readdir(layout.tmp()).catch(() => [] as string[]);
  for (const entry of entries) {
    if (!isStaleTemp(entry)) continue;
    await fs.rm(path.join(layout.tmp(), entry), { force: true, recursive: true });
    removed++;
  }
  return removed;
}

/**
 * A temp is stale when no running process can still be writing it: its pid is not running, or the pid
 * is this process's but the name carries another start time (an earlier process with the same pid),
 * or the pid now belongs to a process that started at another time than the one the name records
 * (pids wrap: a dead writer's pid is soon another process's). A name of our own pid without a start
 * time is kept: it may belong to another store in this process.
 */
export function isStaleTemp(name: string, startOf: (pid: number) => number | undefined = processStartMs): boolean {
  const [pidText, start, ...rest] = name.split('-');
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return true;
  if (pid === process.pid) return rest.length > 0 && start !== PROCESS_START;
  if (!isRunning(pid)) return true;
  const recorded = rest.length > 0 && start !== undefined ? parseInt(start, 36) : NaN;
  const actual = startOf(pid);
  return Number.isFinite(recorded) && actual !== undefined && Math.abs(actual - recorded) > START_TOLERANCE_MS;
}

/** How far a process's recorded start (its time origin) may lie from the kernel's start time for it. */
const START_TOLERANCE_MS = 10_000;

/**
 * When a running process started (ms since the epoch), from /proc: its start time in clock ticks
 * after boot and the boot time. undefined where /proc does not say (not Linux, no permission).
 */
export function processStartMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: fields count from after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]); // field 22, starttime
    const boot = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(ticks) || !Number.isFinite(boot)) return undefined;
    return boot * 1000 + (ticks / CLOCK_TICKS_PER_SECOND) * 1000;
  } catch {
    return undefined;
  }
}

/** USER_HZ, which Linux fixes at 100 on every architecture it reports /proc/<pid>/stat for. */
const CLOCK_TICKS_PER_SECOND = 100;

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
