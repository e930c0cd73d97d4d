// skopeo and podman with private policy, auth, registries.conf and storage in a temp dir.
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { run, type RunOptions, type RunResult, type AfterLike, tempDir, cleanEnv } from './run.js';

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
