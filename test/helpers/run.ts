// Running real client commands in tests: a hard timeout on every call, tools that may be missing,
// cleanup scopes for describe() blocks, temp dirs and clean environments.
import { execFile } from 'node:child_process';
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { TestContext } from 'node:test';

// ---- Running a command ------------------------------------------------------------------------

export interface RunResult {
  command: string;
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  /** Hard limit: the process is killed with SIGKILL when it runs longer. */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export const DEFAULT_TIMEOUT_MS = 60_000;

/** Runs a command to completion (or its timeout). Never rejects for a failing command: check `code`. */
export function run(file: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = performance.now();
  const command = [file, ...args].join(' ');
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', env: options.env, cwd: options.cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const failure = error as (NodeJS.ErrnoException & { killed?: boolean; signal?: NodeJS.Signals | null; code?: number | string }) | null;
        const ms = performance.now() - started;
        let code: number | null = 0;
        if (failure) code = typeof failure.code === 'number' ? failure.code : failure.signal ? null : 127;
        const spawnError = failure && typeof failure.code === 'string' ? `${failure.message}\n` : '';
        resolve({
          command,
          code,
          signal: failure?.signal ?? null,
          timedOut: Boolean(failure?.killed && failure.signal === 'SIGKILL' && ms >= timeoutMs),
          stdout,
          stderr: spawnError + stderr,
          ms,
        });
      },
    );
  });
}

/** Throws with the command's whole output unless it exited 0. Returns the result for chaining. */
export function ok(result: RunResult): RunResult {
  if (result.code === 0) return result;
  const why = result.timedOut ? `timed out after ${Math.round(result.ms)} ms` : `exited ${result.code ?? result.signal}`;
  throw new Error(`${result.command}\n${why}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
}

// ---- Tools that may be missing ---------------------------------------------------------------

/** The absolute path of an executable on PATH, or undefined. */
export function findTool(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      if (statSync(candidate).isFile()) {
        accessSync(candidate, fsConstants.X_OK);
        return candidate;
      }
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}

export function missingTools(...names: string[]): string[] {
  return names.filter((name) => findTool(name) === undefined);
}

/**
 * True when every tool is installed. When one is missing the test is skipped with the reason on a
 * workstation, but fails when CI is set: CI installs every client, so a missing one is a broken job.
 */
export function requireTools(t: TestContext, ...names: string[]): boolean {
  const missing = missingTools(...names);
  if (missing.length === 0) return true;
  const reason = `${missing.join(', ')} not installed (Debian: apt-get install ${missing.map(debianPackage).join(' ')})`;
  if (process.env.CI) throw new Error(`${reason}; CI must install it`);
  t.skip(reason);
  return false;
}

export const requireTool = (t: TestContext, name: string): boolean => requireTools(t, name);

function debianPackage(tool: string): string {
  return ({ docker: 'docker.io', dockerd: 'docker.io', ctr: 'containerd', ldd: 'libc-bin', openssl: 'openssl' } as Record<string, string>)[tool] ?? tool;
}

// ---- Cleanup for describe() blocks ------------------------------------------------------------

/**
 * before() hooks get no t.after(); a Scope collects cleanups there and runs them (last first) from
 * after(). `context` stands in for a TestContext where a helper only needs `after`.
 */
export class Scope {
  private readonly cleanups: (() => unknown)[] = [];
  readonly context = { after: (fn: () => unknown) => this.cleanups.push(fn) } as unknown as TestContext;

  after(fn: () => unknown): void {
    this.cleanups.push(fn);
  }

  async close(): Promise<void> {
    const errors: unknown[] = [];
    for (const fn of this.cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
  }
}

/**
 * A TestContext or a Scope. node:test runs t.after() hooks first-registered first and skips the rest
 * when one throws, so each helper registers one cleanup that stops what it started before removing
 * its temp dir, and never throws.
 */
export interface AfterLike {
  after(fn: () => unknown): void;
}

/** A temp dir with a cleanup that never throws; the helper that owns it decides when it runs. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined) };
}

/** An environment with nothing of the user's: PATH, a temp HOME and TMPDIR, plus `extra`. */
export function cleanEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: home,
    TMPDIR: path.join(home, 'tmp'),
    LANG: 'C.UTF-8',
    ...extra,
  };
}


/** Polls a condition every 50 ms until it holds or the time is up. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await delay(50);
  }
}

export function tail(text: string, lines = 30): string {
  return text.split('\n').slice(-lines).join('\n');
}
