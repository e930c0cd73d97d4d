// What /proc says of a process: CPU seconds (the whole process, or each thread by name) and the peak
// resident set (VmHWM), which clear_refs resets; and of the machine, the CPU time its host stole.
// Linux only; elsewhere the figures read 0.
import fs from 'node:fs';

const TICKS = 100; // USER_HZ on Linux

/** The machine's CPU time so far, all CPUs together, from /proc/stat's first line (ticks). */
export interface MachineTime {
  total: number;
  /** Time the hypervisor ran something else while this guest had work: the VM's noise. */
  steal: number;
}

export function machineTime(): MachineTime {
  try {
    const fields = (fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
    return { total: fields.reduce((sum, value) => sum + (value || 0), 0), steal: fields[7] || 0 };
  } catch {
    return { total: 0, steal: 0 };
  }
}

/** The share (0..1) of the machine's CPU time between two readings that the host took away. */
export function stealShare(before: MachineTime, after: MachineTime): number {
  const total = after.total - before.total;
  return total > 0 ? (after.steal - before.steal) / total : 0;
}

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

/** A thread's CPU seconds, split: user time is JavaScript, GC and hashing; system time is I/O. */
export interface ThreadTime {
  user: number;
  system: number;
}

/**
 * CPU seconds of each live thread of pid, by thread id (`main` for the main thread), from
 * /proc/<pid>/task/<tid>/stat. Node 20 names every thread `node`, so threads are told apart by id and
 * by the split: the V8 platform threads (GC) run user time only, the thread pool's (file writes)
 * system time only, a Worker both.
 */
export function threadCpu(pid: number): Map<string, ThreadTime> {
  const byThread = new Map<string, ThreadTime>();
  let tids: string[] = [];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return byThread;
  }
  for (const tid of tids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      byThread.set(tid === String(pid) ? 'main' : tid, { user: Number(fields[11] ?? 0) / TICKS, system: Number(fields[12] ?? 0) / TICKS });
    } catch {
      // the thread ended meanwhile
    }
  }
  return byThread;
}

/** The CPU seconds each thread spent between two threadCpu() readings, largest first. */
export function threadDelta(before: Map<string, ThreadTime>, after: Map<string, ThreadTime>): [string, ThreadTime][] {
  return [...after]
    .map(([name, time]): [string, ThreadTime] => [name, { user: time.user - (before.get(name)?.user ?? 0), system: time.system - (before.get(name)?.system ?? 0) }])
    .filter(([, time]) => time.user + time.system > 0)
    .sort((a, b) => b[1].user + b[1].system - (a[1].user + a[1].system));
}

/** `main 1.60 (user 0.90)` for each thread: the total, and the user part of it. */
export function threadText(threads: [string, ThreadTime][]): string {
  return threads.map(([name, { user, system }]) => `${name} ${(user + system).toFixed(2)} (user ${user.toFixed(2)})`).join(', ');
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
