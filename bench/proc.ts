// What /proc says of a process: CPU seconds (the whole process, or each thread by name) and the peak
// resident set (VmHWM), which clear_refs resets. Linux only; elsewhere the figures read 0.
import fs from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

/** utime + stime of a /proc stat line, in seconds; children (cutime, cstime) too when asked. */
function statSeconds(text: string, children: boolean): number {
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const picked = children ? [11, 12, 13, 14] : [11, 12];
  return picked.reduce((sum, field) => sum + Number(fields[field] ?? 0), 0) / TICKS;
}

/** CPU seconds (user + system, all threads, and the children it has waited for) of pid so far. */
export function cpuSeconds(pid: number): number {
  try {
    return statSeconds(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'), true);
  } catch {
    return 0;
  }
}

/**
 * CPU seconds of each live thread of pid, by thread id (`main` for the main thread), from
 * /proc/<pid>/task/<tid>/stat. Node 20 names every thread `node`, so threads are told apart by id:
 * the V8 platform threads start with the process, the thread pool's on first use, a Worker's later.
 */
export function threadCpu(pid: number): Map<string, number> {
  const byThread = new Map<string, number>();
  let tids: string[] = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return byThread;
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      byThread.set(tid === String(pid) ? 'main' : tid, statSeconds(stat, false));
    } catch {
      // the thread ended meanwhile
    }
  }
  return byThread;
}

/** The CPU seconds each thread spent between two threadCpu() readings, largest first. */
export function threadDelta(before: Map<string, number>, after: Map<string, number>): [string, number][] {
  return [...after]
    .map(([name, seconds]): [string, number] => [name, seconds - (before.get(name) ?? 0)])
    .filter(([, seconds]) => seconds > 0)
    .sort((a, b) => b[1] - a[1]);
}

function statusBytes(pid: number, field: string): number {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

/** Peak resident set size in bytes since start or the last resetPeak. */
export function peakRss(pid: number): number {
  return statusBytes(pid, 'VmHWM');
}

/** Starts a new VmHWM window (5 to /proc/<pid>/clear_refs). */
export function resetPeak(pid: number): void {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // an older kernel: the peak is then since start
  }
}

/** dir, created (with its parents) if missing. */
export function made(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
