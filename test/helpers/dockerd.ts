// A private dockerd for tests: its own socket, data root, exec root and containerd, stopped by PID.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { run, type RunOptions, type RunResult, type AfterLike, tempDir, cleanEnv, waitFor, tail } from './run.js';
import { startNameProxy, VERIFIED_NAME } from './name-proxy.js';

/** Where Debian keeps the system's CA bundle; added to the daemon's trust when present. */
const SYSTEM_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

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
  /**
   * The name under which this daemon reaches the registry on 127.0.0.1:port with the certificate
   * verified against `trust` (see name-proxy.ts); only for a daemon started with `trust`.
   */
  verifiedHost(port: number): string;
}

export interface DockerdOptions {
  /** host:port of registries to reach over plain HTTP (127.0.0.0/8 already is, by default). */
  insecureRegistries?: string[];
  /**
   * CA certificates (PEM files) the daemon trusts, with the system bundle: its SSL_CERT_FILE. With
   * them the daemon reaches verifiedHost(port) through a loopback proxy and verifies its TLS.
   */
  trust?: string[];
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
  // Go's crypto/x509 takes the system pool from SSL_CERT_FILE; dockerd has no other way to trust a
  // CA outside /etc/docker/certs.d. The proxy is how it reaches VERIFIED_NAME (name-proxy.ts).
  const trustEnv: NodeJS.ProcessEnv = {};
  if (options.trust) {
    const bundle = path.join(dir, 'ca-bundle.crt');
    const parts = await Promise.all([...options.trust, ...(existsSync(SYSTEM_BUNDLE) ? [SYSTEM_BUNDLE] : [])].map((file) => fs.readFile(file, 'utf8')));
    await fs.writeFile(bundle, parts.map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)).join(''));
    const proxy = await startNameProxy();
    owner.after(() => proxy.close());
    Object.assign(trustEnv, { SSL_CERT_FILE: bundle, SSL_CERT_DIR: path.join(dir, 'no-cert-dir'), HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: '', GODEBUG: 'netdns=go' });
  }
  const logFd = openSync(logFile, 'a');
  const child = spawn('dockerd', args, { stdio: ['ignore', logFd, logFd], env: cleanEnv(home, trustEnv) });
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
    unmountUnder(dir);
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
    verifiedHost: (port) => {
      if (!options.trust) throw new Error('verifiedHost needs a dockerd started with trust');
      return `${VERIFIED_NAME}:${port}`;
    },
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
      // dockerd bind-mounts its data root onto itself (undone on a clean stop, not after SIGKILL), and a
      // container on the host network leaves the exec root's netns/default mounted: unmount all of it.
      unmountUnder(dir);
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
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  const timer = new AbortController();
  try {
    return await Promise.race([promise.then(() => true), delay(ms, false, { signal: timer.signal })]);
  } finally {
    timer.abort();
  }
}

/** Lazily unmounts every mount at or below dir (deepest first); synchronous, for the 'exit' hook too. */
export function unmountUnder(dir: string): void {
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
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}
