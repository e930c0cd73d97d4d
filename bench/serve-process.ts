// Benchmarks run the real binary: start `broken-reg serve` on a temp store, read its URL, sample its
// memory from /proc, and stop it by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/broken-reg.js');

export interface ServeProcess {
  url: string;
  child: ChildProcess;
  /** Current resident set size in bytes (VmRSS), 0 when the process is gone. */
  rss(): number;
  /** Peak resident set size so far in bytes (VmHWM). */
  peakRss(): number;
  stop(): Promise<void>;
}

export async function startServe(store: string, args: string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--store', store, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });
  child.stdout.resume();
  child.stderr.resume();
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${output}`)), 15_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', () => reject(new Error(`serve exited: ${output}`)));
  });
  const status = (field: string) => {
    try {
      const text = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(text)?.[1] ?? 0) * 1024;
    } catch {
      return 0;
    }
  };
  return {
    url,
    child,
    rss: () => status('VmRSS'),
    peakRss: () => status('VmHWM'),
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
