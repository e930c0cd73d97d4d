// A private containerd for tests: its own root, state, socket and config in a temp dir, stopped by PID.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { run, type RunOptions, type RunResult, type AfterLike, tempDir, cleanEnv, tail } from './run.js';
import { settlesWithin, unmountUnder } from './dockerd.js';

export interface Containerd {
  /** `ctr --address <socket> --namespace <namespace>` followed by args. */
  ctr(args: string[], options?: RunOptions): Promise<RunResult>;
  socket: string;
  pid: number;
  /** SIGTERM, then SIGKILL after a bounded wait; idempotent. */
  stop(): Promise<void>;
  /** The daemon's log so far, for failure messages. */
  log(): Promise<string>;
}

export interface ContainerdOptions {
  namespace?: string;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
}

/**
 * Plugins a pull does not need, left off so containerd neither reads the host's CRI setup nor probes
 * kernel features; overlayfs is off too (it cannot mount here), so images unpack with `native`.
 */
const DISABLED_PLUGINS = [
  'io.containerd.grpc.v1.cri',
  'io.containerd.snapshotter.v1.aufs',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.snapshotter.v1.overlayfs',
];

/**
 * Starts Debian's containerd with a config file in a temp dir (so /etc/containerd is not read) naming
 * a private root, state, gRPC and ttrpc socket, with the debug and metrics listeners off.
 */
export async function startContainerd(owner: AfterLike, options: ContainerdOptions = {}): Promise<Containerd> {
  // Short prefix: unix socket paths are short.
  const { dir, remove } = await tempDir('bcd-');
  let stopDaemon: () => Promise<void> = async () => undefined;
  owner.after(async () => {
    await stopDaemon().catch(() => undefined);
    await remove();
  });
  const socket = path.join(dir, 'containerd.sock');
  const logFile = path.join(dir, 'containerd.log');
  const home = path.join(dir, 'home');
  await fs.mkdir(path.join(home, 'tmp'), { recursive: true });
  const config = path.join(dir, 'config.toml');
  await fs.writeFile(
    config,
    [
      'version = 2',
      `root = ${JSON.stringify(path.join(dir, 'root'))}`,
      `state = ${JSON.stringify(path.join(dir, 'state'))}`,
      `disabled_plugins = ${JSON.stringify(DISABLED_PLUGINS)}`,
      '[grpc]',
      `  address = ${JSON.stringify(socket)}`,
      '[ttrpc]',
      `  address = ${JSON.stringify(`${socket}.ttrpc`)}`,
      '[debug]',
      '  address = ""',
      '[metrics]',
      '  address = ""',
      '',
    ].join('\n'),
  );

  const logFd = openSync(logFile, 'a');
  const child = spawn('containerd', ['--config', config], { stdio: ['ignore', logFd, logFd], env: cleanEnv(home) });
  closeSync(logFd);
  child.on('error', () => undefined); // a failed spawn shows as pid === undefined below
  child.unref(); // never hold the test process open; the 'exit' hook below still kills it
  const pid = child.pid;
  if (pid === undefined) throw new Error(`containerd did not start: ${await fs.readFile(logFile, 'utf8').catch(() => '')}`);
  let exited = false;
  const exitedPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  // Last resort if the test process ends without running after(): the daemon does not outlive it.
  const killNow = () => {
    try {
      if (!exited) process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    unmountUnder(dir);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    killNow();
    process.kill(process.pid, signal);
  };
  process.once('exit', killNow);
  process.once('SIGTERM', onSignal);

  const env = cleanEnv(home);
  const namespace = options.namespace ?? 'broken-reg-test';
  const containerd: Containerd = {
    socket,
    pid,
    ctr: (args, runOptions = {}) => run('ctr', ['--address', socket, '--namespace', namespace, ...args], { env, ...runOptions }),
    log: () => fs.readFile(logFile, 'utf8').catch(() => ''),
    stop: async () => {
      process.off('exit', killNow);
      process.off('SIGTERM', onSignal);
      child.ref(); // keep the process alive while waiting for the daemon to go
      if (!exited) {
        child.kill('SIGTERM');
        if (!(await settlesWithin(exitedPromise, options.stopTimeoutMs ?? 10_000))) {
          child.kill('SIGKILL');
          await exitedPromise;
        }
      }
      // Unpacking bind-mounts snapshots under root/tmpmounts; a killed daemon cannot undo that.
      unmountUnder(dir);
    },
  };
  stopDaemon = containerd.stop; // set before waiting, so a daemon that never answers is still stopped

  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  for (;;) {
    if (exited) throw new Error(`containerd exited during start:\n${tail(await containerd.log())}`);
    const version = await containerd.ctr(['version'], { timeoutMs: 5_000 });
    if (version.code === 0 && version.stdout.includes('Server:')) break;
    if (Date.now() > deadline) throw new Error(`containerd did not answer within the start timeout:\n${version.stderr}\n${tail(await containerd.log())}`);
    await delay(100);
  }
  return containerd;
}
