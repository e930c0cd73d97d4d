// Runs the real broken-reg binary on a pseudo-terminal of a chosen width, under util-linux `script`,
// as a user at a terminal would (spinners on), and gives its pid to signal it directly.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { BIN } from './cli.js';
import { makeTempDir } from './registry.js';

export interface TerminalCli {
  /** The pid of broken-reg itself: the shell script starts execs into it. */
  pid: number;
  /** Everything written to the terminal so far. */
  output(): string;
  /** Bytes written to the terminal so far. */
  bytes(): number;
  /** The exit code of broken-reg (script -e passes it on; 128+n after signal n). */
  exited: Promise<number | null>;
}

export interface TerminalOptions {
  columns: number;
  /** A file (e.g. a FIFO) to give broken-reg as its stdin; else the terminal. */
  stdin?: string;
  env?: NodeJS.ProcessEnv;
}

const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

export async function startUnderTerminal(t: TestContext, args: string[], options: TerminalOptions): Promise<TerminalCli> {
  const pidFile = path.join(await makeTempDir(t, 'broken-reg-tty-'), 'pid');
  const input = options.stdin ? ` < ${quote(options.stdin)}` : '';
  const command =
    `stty cols ${options.columns} rows 24; echo $$ > ${quote(pidFile)}; ` +
    `exec ${quote(process.execPath)} ${quote(BIN)} ${args.map(quote).join(' ')}${input}`;
  const child = spawn('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm-256color', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A runaway writer would fill memory: keep the start and the end, which are what tests look at.
  const KEEP = 64 << 10;
  let head = '';
  let tail = '';
  let bytes = 0;
  const take = (chunk: Buffer) => {
    bytes += chunk.length;
    if (head.length < KEEP) head += chunk.toString();
    else tail = (tail + chunk.toString()).slice(-KEEP);
  };
  const output = () => head + tail;
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let pid: number | undefined;
  t.after(() => {
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const deadline = Date.now() + 15_000;
  while (pid === undefined) {
    const text = await fs.readFile(pidFile, 'utf8').catch(() => '');
    if (/^\d+\n$/.test(text)) pid = Number(text);
    else if (child.exitCode !== null || Date.now() > deadline) throw new Error(`broken-reg did not start under script:\n${output()}`);
    else await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { pid, output, bytes: () => bytes, exited };
}

/** Resolves with the value of promise, or undefined when it takes longer than ms. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls (bounded) until check() holds; throws with what() after timeoutMs. */
export async function until(check: () => Promise<boolean> | boolean, what: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
