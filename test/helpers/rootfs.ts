// An offline stand-in for node:20-bookworm-slim, for building the Dockerfile where no registry can be
// reached: a root filesystem made from this machine's own Node runtime and the shared libraries it
// links (found with ldd, copied to the same paths, the dynamic loader too), optionally npm with a
// copy of this machine's npm cache (npm_config_offline=true, so `npm ci` needs no network) and the
// few programs a RUN line and npm scripts use (sh, env, rm, mkdir, cp). Packed with tar and given
// to `docker import`.
import { execFile } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { findTool, ok, run, type Docker } from './clients.js';

const execFileAsync = promisify(execFile);

/** Where the pieces go inside the image: the official node images' layout. */
const NODE_PATH = '/usr/local/bin/node';
const NPM_DIR = '/usr/local/lib/node_modules/npm';
const NPM_CACHE = '/root/.npm/_cacache';
export const BASE_PATH_ENV = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface RootfsOptions {
  /** Add npm, this machine's npm cache (offline installs) and sh/env/rm/mkdir/cp for RUN lines. */
  npm?: boolean;
  /** The non-root user written to /etc/passwd and /etc/group (like the node images' `node`). */
  user?: { name: string; uid: number };
}

export interface Rootfs {
  dir: string;
  /** ENV lines for `docker import --change`. */
  env: string[];
  /** Bytes copied, for diagnostics. */
  bytes: number;
}

/** The absolute paths of the shared objects a binary loads, the dynamic loader included, per ldd. */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await execFileAsync('ldd', [binary], { timeout: 10_000 }).catch((error: { stdout?: string }) => ({
    stdout: error.stdout ?? '',
  }));
  if (/not a dynamic executable|statically linked/.test(stdout)) return [];
  const libs = new Set<string>();
  for (const line of stdout.split('\n')) {
    // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const match = /=>\s+(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (match?.[1]) libs.add(match[1]);
    if (/=>\s+not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}`);
  }
  return [...libs];
}

/** Copies a file's content (symlinks followed) to the same absolute path under root, keeping its mode. */
async function copyInto(root: string, source: string, target = source): Promise<number> {
  const destination = path.join(root, target);
  await fs.mkdir(path.dirname(destination), { recursive: true });
  await fs.copyFile(realpathSync(source), destination);
  const stat = await fs.stat(source);
  await fs.chmod(destination, stat.mode & 0o7777);
  return stat.size;
}

async function copyBinary(root: string, source: string, target: string, copied: Set<string>): Promise<number> {
  let bytes = await copyInto(root, source, target);
  for (const lib of await sharedLibraries(source)) {
    if (copied.has(lib)) continue;
    copied.add(lib);
    bytes += await copyInto(root, lib);
  }
  return bytes;
}

async function treeSize(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await fs.stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

/** The npm this node runs (`npm` on PATH, symlinks followed): its package directory. */
export function npmPackageDir(): string | undefined {
  const npm = findTool('npm');
  if (!npm) return undefined;
  const cli = realpathSync(npm); // .../node_modules/npm/bin/npm-cli.js
  const dir = path.resolve(path.dirname(cli), '..');
  return existsSync(path.join(dir, 'package.json')) ? dir : undefined;
}

/** The npm cache this machine's `npm ci` filled (`npm config get cache` + /_cacache). */
export async function npmCacheDir(): Promise<string | undefined> {
  const result = await run('npm', ['config', 'get', 'cache'], { timeoutMs: 20_000 });
  const dir = result.code === 0 ? path.join(result.stdout.trim(), '_cacache') : '';
  return dir && existsSync(dir) ? dir : undefined;
}

/** Builds the root filesystem in `dir` (which must exist and be empty). */
export async function buildNodeRootfs(dir: string, options: RootfsOptions = {}): Promise<Rootfs> {
  const user = options.user ?? { name: 'node', uid: 10001 };
  const copied = new Set<string>();
  const env = [`PATH=${BASE_PATH_ENV}`, `NODE_VERSION=${process.versions.node}`];
  let bytes = await copyBinary(dir, process.execPath, NODE_PATH, copied);

  for (const sub of ['tmp', 'root', 'etc', `home/${user.name}`]) await fs.mkdir(path.join(dir, sub), { recursive: true });
  await fs.chmod(path.join(dir, 'tmp'), 0o1777);
  await fs.chmod(path.join(dir, 'root'), 0o700);
  await fs.writeFile(
    path.join(dir, 'etc/passwd'),
    `root:x:0:0:root:/root:/bin/sh\n${user.name}:x:${user.uid}:${user.uid}::/home/${user.name}:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
  );
  await fs.writeFile(path.join(dir, 'etc/group'), `root:x:0:\n${user.name}:x:${user.uid}:\nnogroup:x:65534:\n`);
  await fs.writeFile(path.join(dir, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');

  if (options.npm) {
    const tools: [string, string][] = [
      ['sh', '/bin/sh'],
      ['env', '/usr/bin/env'],
      ['rm', '/bin/rm'],
      ['mkdir', '/bin/mkdir'],
      ['cp', '/bin/cp'],
    ];
    for (const [name, target] of tools) {
      const source = findTool(name);
      if (!source) throw new Error(`${name} not found on PATH`);
      bytes += await copyBinary(dir, source, target, copied);
    }
    const npmDir = npmPackageDir();
    if (!npmDir) throw new Error('npm not found next to this node');
    // Without its docs and man pages: with vfs, every build step copies every file of the image.
    const skip = new Set(['docs', 'man'].map((sub) => path.join(npmDir, sub)));
    await fs.cp(npmDir, path.join(dir, NPM_DIR), { recursive: true, verbatimSymlinks: true, filter: (source) => !skip.has(source) });
    bytes += await treeSize(npmDir);
    await fs.symlink('../lib/node_modules/npm/bin/npm-cli.js', path.join(dir, 'usr/local/bin/npm'));
    await fs.symlink('../lib/node_modules/npm/bin/npx-cli.js', path.join(dir, 'usr/local/bin/npx'));
    const cache = await npmCacheDir();
    if (!cache) throw new Error('no npm cache on this machine: run `npm ci` first');
    await fs.cp(cache, path.join(dir, NPM_CACHE), { recursive: true, verbatimSymlinks: true });
    bytes += await treeSize(cache);
    // Everything from the cache, never the network; no update check, audit or funding calls.
    env.push('npm_config_offline=true', 'npm_config_update_notifier=false', 'npm_config_audit=false', 'npm_config_fund=false');
  }
  return { dir, env, bytes };
}

/**
 * Builds the root filesystem in `work/rootfs`, packs it to `work/rootfs.tar` and imports it as `tag`.
 * The tar and the tree are removed once imported (they are large); `work` is the caller's to remove.
 */
export async function importNodeBase(docker: Docker, tag: string, work: string, options: RootfsOptions = {}): Promise<Rootfs> {
  const dir = path.join(work, 'rootfs');
  await fs.mkdir(dir, { recursive: true });
  const rootfs = await buildNodeRootfs(dir, options);
  const tarball = path.join(work, 'rootfs.tar');
  ok(await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', dir, '-cf', tarball, '.'], { timeoutMs: 60_000 }));
  await fs.rm(dir, { recursive: true, force: true });
  const changes = rootfs.env.flatMap((line) => ['--change', `ENV ${line}`]);
  ok(await docker.run(['import', ...changes, '--change', 'CMD ["node"]', tarball, tag], { timeoutMs: 60_000 }));
  await fs.rm(tarball, { force: true });
  return rootfs;
}
