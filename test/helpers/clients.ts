// Real registry clients for e2e tests: skopeo, podman and docker (with a private dockerd), each run
// with a hard timeout, a clean environment and private config and storage in a temp dir, so a test
// touches nothing of the user's and leaves no process behind.
import { execFile, spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants as fsConstants, existsSync, openSync, readFileSync, statSync } from 'node:fs';
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
  return ({ docker: 'docker.io', dockerd: 'docker.io' } as Record<string, string>)[tool] ?? tool;
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
interface AfterLike {
  after(fn: () => unknown): void;
}

/** A temp dir with a cleanup that never throws; the helper that owns it decides when it runs. */
async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined) };
}

/** An environment with nothing of the user's: PATH, a temp HOME and TMPDIR, plus `extra`. */
function cleanEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: home,
    TMPDIR: path.join(home, 'tmp'),
    LANG: 'C.UTF-8',
    ...extra,
  };
}

const POLICY = JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] });

/** registries.conf: no short-name search, and the registries under test marked insecure (plain HTTP). */
function registriesConf(insecure: string[]): string {
  const entries = insecure.map((host) => `[[registry]]\nlocation = "${host}"\ninsecure = true\n`);
  return ['unqualified-search-registries = []', 'short-name-mode = "disabled"', '', ...entries].join('\n');
}

/** Files every containers/image client here shares: policy, auth file, registries.conf, registries.d. */
async function containersFiles(dir: string, insecure: string[]) {
  const files = {
    home: path.join(dir, 'home'),
    policy: path.join(dir, 'policy.json'),
    auth: path.join(dir, 'auth.json'),
    registriesConf: path.join(dir, 'registries.conf'),
    registriesD: path.join(dir, 'registries.d'),
    xdgRuntime: path.join(dir, 'xdg-runtime'),
  };
  await fs.mkdir(path.join(files.home, 'tmp'), { recursive: true });
  await fs.mkdir(files.registriesD, { recursive: true });
  await fs.mkdir(files.xdgRuntime, { recursive: true, mode: 0o700 });
  await fs.writeFile(files.policy, POLICY);
  await fs.writeFile(files.auth, JSON.stringify({ auths: {} }));
  await fs.writeFile(files.registriesConf, registriesConf(insecure));
  return files;
}

// ---- skopeo -----------------------------------------------------------------------------------

export interface Skopeo {
  /** Any skopeo command, with the private policy, registries.d and tmpdir. */
  run(args: string[], options?: RunOptions): Promise<RunResult>;
  /** `skopeo copy` with TLS verification off both ways and no retries; `flags` go before the refs. */
  copy(source: string, destination: string, flags?: string[], options?: RunOptions): Promise<RunResult>;
  /** `skopeo inspect` against a registry (`docker://` refs). */
  inspect(ref: string, flags?: string[], options?: RunOptions): Promise<RunResult>;
  listTags(ref: string, options?: RunOptions): Promise<RunResult>;
}

/**
 * skopeo with its own policy (insecureAcceptAnything), empty auth file, registries.conf and
 * registries.d, HOME/TMPDIR/XDG_RUNTIME_DIR in a temp dir. One thing it keeps outside: as root,
 * containers/image's blob-info cache is /var/lib/containers/cache (skopeo 1.9 has no flag or env
 * for it). The cache only suggests blobs to reuse or mount; `--preserve-digests` keeps the bytes
 * the same whatever it holds.
 */
export async function createSkopeo(owner: AfterLike, insecureRegistries: string[] = []): Promise<Skopeo> {
  const { dir, remove } = await tempDir('broken-reg-skopeo-');
  owner.after(remove);
  const files = await containersFiles(dir, insecureRegistries);
  const env = cleanEnv(files.home, {
    REGISTRY_AUTH_FILE: files.auth,
    CONTAINERS_REGISTRIES_CONF: files.registriesConf,
    XDG_RUNTIME_DIR: files.xdgRuntime,
  });
  const global = ['--policy', files.policy, '--registries.d', files.registriesD, '--tmpdir', path.join(files.home, 'tmp')];
  const skopeo: Skopeo = {
    run: (args, options = {}) => run('skopeo', [...global, ...args], { env, ...options }),
    copy: (source, destination, flags = [], options) =>
      skopeo.run(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--retry-times', '0', ...flags, source, destination], options),
    inspect: (ref, flags = [], options) => skopeo.run(['inspect', '--tls-verify=false', '--retry-times', '0', ...flags, ref], options),
    listTags: (ref, options) => skopeo.run(['list-tags', '--tls-verify=false', '--retry-times', '0', ref], options),
  };
  return skopeo;
}

// ---- podman -----------------------------------------------------------------------------------

export interface Podman {
  /** Any podman command with private storage and config. */
  run(args: string[], options?: RunOptions): Promise<RunResult>;
  /** `podman pull` with TLS verification off and the private policy and auth file; `flags` before the ref. */
  pull(ref: string, options?: RunOptions): Promise<RunResult>;
  pull(ref: string, flags: string[], options?: RunOptions): Promise<RunResult>;
  push(ref: string, flags?: string[], options?: RunOptions): Promise<RunResult>;
  /** Where its storage lives, for diagnostics. */
  dir: string;
}

/**
 * podman as root without a daemon or systemd: vfs storage under a temp root/runroot, cgroupfs,
 * events to a file, its own containers.conf, storage.conf, registries.conf, policy and auth file,
 * and HOME/XDG_RUNTIME_DIR/TMPDIR in the temp dir. Rootful podman (netavark) always creates the empty
 * /run/containers/networks; it is removed afterwards when it did not exist before.
 */
export async function createPodman(owner: AfterLike, insecureRegistries: string[] = []): Promise<Podman> {
  const { dir, remove } = await tempDir('broken-reg-podman-');
  const createdRunDir = !existsSync('/run/containers');
  owner.after(async () => {
    await remove();
    if (createdRunDir) {
      await fs.rmdir('/run/containers/networks').catch(() => undefined);
      await fs.rmdir('/run/containers').catch(() => undefined);
    }
  });
  const files = await containersFiles(dir, insecureRegistries);
  const root = path.join(dir, 'root');
  const runroot = path.join(dir, 'runroot');
  const libpodTmp = path.join(dir, 'libpod-tmp');
  const networks = path.join(dir, 'networks');
  const containersConf = path.join(dir, 'containers.conf');
  const storageConf = path.join(dir, 'storage.conf');
  await fs.writeFile(
    containersConf,
    [
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${path.join(dir, 'events.log')}"`,
      `tmp_dir = "${libpodTmp}"`,
      '[network]',
      `network_config_dir = "${networks}"`,
      '',
    ].join('\n'),
  );
  await fs.writeFile(storageConf, ['[storage]', 'driver = "vfs"', `runroot = "${runroot}"`, `graphroot = "${root}"`, ''].join('\n'));
  const env = cleanEnv(files.home, {
    CONTAINERS_CONF: containersConf,
    CONTAINERS_STORAGE_CONF: storageConf,
    CONTAINERS_REGISTRIES_CONF: files.registriesConf,
    REGISTRY_AUTH_FILE: files.auth,
    XDG_RUNTIME_DIR: files.xdgRuntime,
  });
  const global = [
    '--root', root,
    '--runroot', runroot,
    '--storage-driver', 'vfs',
    '--tmpdir', libpodTmp,
    '--cgroup-manager', 'cgroupfs',
    '--events-backend', 'file',
    '--network-config-dir', networks,
  ];
  const registryFlags = ['--tls-verify=false', '--signature-policy', files.policy, '--authfile', files.auth];
  const podman: Podman = {
    dir,
    run: (args, options = {}) => run('podman', [...global, ...args], { env, ...options }),
    pull: (ref: string, flagsOrOptions?: string[] | RunOptions, options?: RunOptions) => {
      const [flags, runOptions] = Array.isArray(flagsOrOptions) ? [flagsOrOptions, options] : [[], flagsOrOptions];
      return podman.run(['pull', ...registryFlags, ...flags, ref], runOptions);
    },
    push: (ref, flags = [], options) => podman.run(['push', ...registryFlags, ...flags, ref], options),
  };
  return podman;
}

// ---- docker with a private dockerd ------------------------------------------------------------

export interface Docker {
  /** The docker CLI against this daemon (`-H unix://<socket>`), with a private DOCKER_CONFIG. */
  run(args: string[], options?: RunOptions): Promise<RunResult>;
  socket: string;
  pid: number;
  /** SIGTERM, then SIGKILL after a bounded wait; idempotent. */
  stop(): Promise<void>;
  /** The daemon's log so far, for failure messages. */
  log(): Promise<string>;
}

export interface DockerdOptions {
  /** host:port of registries to reach over plain HTTP (127.0.0.0/8 already is, by default). */
  insecureRegistries?: string[];
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
}

/**
 * Starts Debian's dockerd on a private unix socket with everything in a temp dir: data root, exec
 * root (where it starts its own containerd), pidfile, daemon.json (so /etc/docker/daemon.json is not
 * read, and the trust key goes to the temp dir), vfs storage, no iptables, no bridge. dockerd always
 * creates the empty /run/docker/plugins; it is removed afterwards when it did not exist before.
 */
export async function startDockerd(owner: AfterLike, options: DockerdOptions = {}): Promise<Docker> {
  // Short prefix: containerd's sockets live under the exec root and unix socket paths are short.
  const { dir, remove } = await tempDir('brd-');
  let stopDaemon: () => Promise<void> = async () => undefined;
  owner.after(async () => {
    await stopDaemon().catch(() => undefined);
    await remove();
  });
  const socket = path.join(dir, 'docker.sock');
  const execRoot = path.join(dir, 'exec');
  const logFile = path.join(dir, 'dockerd.log');
  const dataRoot = path.join(dir, 'data');
  const home = path.join(dir, 'home');
  await fs.mkdir(path.join(home, 'tmp'), { recursive: true });
  const daemonJson = path.join(dir, 'daemon.json');
  await fs.writeFile(daemonJson, JSON.stringify({ 'deprecated-key-path': path.join(dir, 'key.json') }));
  const runDockerExisted = existsSync('/run/docker');

  const args = [
    '--config-file', daemonJson,
    '-H', `unix://${socket}`,
    '--data-root', dataRoot,
    '--exec-root', execRoot,
    '--pidfile', path.join(dir, 'dockerd.pid'),
    '--storage-driver=vfs',
    '--iptables=false',
    '--ip6tables=false',
    '--bridge=none',
    ...(options.insecureRegistries ?? []).flatMap((host) => ['--insecure-registry', host]),
  ];
  const logFd = openSync(logFile, 'a');
  const child = spawn('dockerd', args, { stdio: ['ignore', logFd, logFd], env: cleanEnv(home) });
  closeSync(logFd);
  child.on('error', () => undefined); // a failed spawn shows as pid === undefined below
  // Never hold the test process open: if cleanup is skipped, the 'exit' hook below still kills it.
  child.unref();
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`dockerd did not start: ${await fs.readFile(logFile, 'utf8').catch(() => '')}`);
  }
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  // The containerd dockerd starts for itself: stopped by dockerd, or by us if dockerd had to be
  // SIGKILLed, and only while its command line still names our exec root (no stray PID reuse).
  const containerdPidFile = path.join(execRoot, 'containerd', 'containerd.pid');
  let containerdPid: number | undefined;
  const ourContainerd = (): number | undefined =>
    containerdPid !== undefined && commandLine(containerdPid).includes(execRoot) ? containerdPid : undefined;
  // Last resort if the test process ends without running after(): no daemon outlives it.
  const killAll = () => {
    const targets = [exited ? undefined : pid, ourContainerd()];
    for (const target of targets) {
      try {
        if (target !== undefined) process.kill(target, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    unmountUnder(dataRoot);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    killAll();
    process.kill(process.pid, signal);
  };
  process.once('exit', killAll);
  process.once('SIGTERM', onSignal);

  const env = cleanEnv(home, { DOCKER_CONFIG: path.join(dir, 'cli-config') });
  const docker: Docker = {
    socket,
    pid,
    run: (cliArgs, runOptions = {}) => run('docker', ['-H', `unix://${socket}`, ...cliArgs], { env, ...runOptions }),
    log: () => fs.readFile(logFile, 'utf8').catch(() => ''),
    stop: async () => {
      process.off('exit', killAll);
      process.off('SIGTERM', onSignal);
      let clean = true;
      child.ref(); // keep the process alive while waiting for the daemon to go
      if (!exited) {
        child.kill('SIGTERM');
        clean = await settlesWithin(exitedPromise, options.stopTimeoutMs ?? 20_000);
        if (!clean) {
          child.kill('SIGKILL');
          await exitedPromise;
        }
      }
      // A dockerd that stopped on SIGTERM has stopped its containerd; after a SIGKILL it could not.
      if (!clean || !(await waitFor(() => ourContainerd() === undefined, 10_000))) {
        const leftover = ourContainerd();
        if (leftover !== undefined) process.kill(leftover, 'SIGKILL');
        await waitFor(() => ourContainerd() === undefined, 10_000);
      }
      // dockerd bind-mounts its data root onto itself and undoes it on a clean stop; not after SIGKILL.
      unmountUnder(dataRoot);
      if (!runDockerExisted) {
        await fs.rmdir('/run/docker/plugins').catch(() => undefined);
        await fs.rmdir('/run/docker').catch(() => undefined);
      }
    },
  };
  // Set before waiting, so a daemon that never answers is still stopped.
  stopDaemon = docker.stop;

  const startDeadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (;;) {
    if (exited) throw new Error(`dockerd exited during start:\n${tail(await docker.log())}`);
    const version = await docker.run(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 5_000 });
    if (version.code === 0 && version.stdout.trim() !== '') break;
    if (Date.now() > startDeadline) {
      throw new Error(`dockerd did not answer within the start timeout:\n${version.stderr}\n${tail(await docker.log())}`);
    }
    await delay(100);
  }
  const pidText = await fs.readFile(containerdPidFile, 'utf8').catch(() => '');
  if (/^\d+$/.test(pidText.trim())) containerdPid = Number(pidText.trim());
  return docker;
}

/** True when the promise settles within ms; the timer never outlives the wait. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  try {
    return await Promise.race([promise.then(() => true), delay(ms, false, { signal: timer.signal })]);
  } finally {
    timer.abort();
  }
}

/** Lazily unmounts every mount at or below dir (deepest first); synchronous, for the 'exit' hook too. */
function unmountUnder(dir: string): void {
  let mountinfo = '';
  try {
    mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return;
  }
  const points = mountinfo
    .split('\n')
    .map((line) => line.split(' ')[4]?.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((point): point is string => point !== undefined && (point === dir || point.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
  for (const point of points) spawnSync('umount', ['--lazy', point], { timeout: 10_000, stdio: 'ignore' });
}

/** A process's command line ('' when it is gone), to check a PID is still the process we mean. */
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
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

function tail(text: string, lines = 30): string {
  return text.split('\n').slice(-lines).join('\n');
}

