// Test parts for the pull-through proxy: a broken-reg with the proxy scenario, CNCF distribution
// (/usr/bin/docker-registry) as a real upstream, small node fronts that misbehave on purpose, pushes
// to any upstream over HTTP, a Docker config in a temp dir, and skopeo with a timeout.
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { FsStore } from '../../src/store/store.js';
import { Uploads } from '../../src/store/uploads.js';
import { createApp } from '../../src/server/app.js';
import { listen } from '../../src/server/listen.js';
import type { ServerDeps } from '../../src/http/context.js';
import type { RequestLogEntry } from '../../src/server/log.js';
import { resolveServeConfig } from '../../src/config.js';
import { systemClock, type Clock } from '../../src/clock.js';
import { preparedScenario } from '../../src/scenarios/prepared.js';
import { createProxyScenario, resolveProxyOptions, type LookupAll, type ProxyFlags, type ProxyOptions } from '../../src/proxy/index.js';
import { makeTempDir, type TestRegistry } from './registry.js';

export const TIMEOUT_MS = 20_000;

/** A registry with the proxy wired to a test's upstream; like startRegistry's, without the server handle. */
export type ProxyRegistry = Omit<TestRegistry, 'server'> & {
  /** What the proxy warned of (ProxyParts.warn). */
  warnings: string[];
};

export interface ProxyStart {
  flags: ProxyFlags;
  /** Applied to the resolved options (e.g. short timeouts). */
  adjust?: (options: ProxyOptions) => ProxyOptions;
  clock?: Clock;
  env?: NodeJS.ProcessEnv;
  lookup?: LookupAll;
  storeDir?: string;
}

/** A broken-reg on 127.0.0.1:0 whose names outside broken/ go to the proxy scenario. */
export async function startProxy(t: TestContext, start: ProxyStart): Promise<ProxyRegistry> {
  // Made here and removed after stop: a client may have all of a blob while the store still writes it.
  const ownDir = start.storeDir ? undefined : await makeTempDir(undefined, 'broken-reg-proxy-');
  const storeDir = start.storeDir ?? ownDir ?? '';
  const clock = start.clock ?? systemClock;
  const config = resolveServeConfig({ store: storeDir, port: '0' }, {});
  const store = await FsStore.open(storeDir);
  const deps: ServerDeps = { store, uploads: new Uploads(store, () => clock.now()), config, clock, random: Math.random };
  const resolved = resolveProxyOptions(start.flags);
  const options = start.adjust ? start.adjust(resolved) : resolved;
  const warnings: string[] = [];
  const proxy = createProxyScenario(options, { clock, env: start.env ?? { DOCKER_CONFIG: storeDir }, lookup: start.lookup, warn: (message) => warnings.push(message) });
  const logs: RequestLogEntry[] = [];
  const app = createApp({ deps, scenarios: { scenarios: [preparedScenario], proxy: proxy.scenario }, log: (entry) => logs.push(entry) });
  const server = await listen(app, { host: '127.0.0.1', port: 0 });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.close(0);
    await proxy.close();
    await store.close();
    if (ownDir) await fs.rm(ownDir, { recursive: true, force: true });
  };
  t.after(stop);
  return { url: server.url, host: `127.0.0.1:${server.port}`, port: server.port, storeDir, deps, logs, warnings, stop };
}

/** A settable clock for TTL tests. */
export function manualClock(start = Date.parse('2026-01-01T00:00:00Z')): Clock & { advance(ms: number): void } {
  let now = start;
  return { now: () => new Date(now), sleep: systemClock.sleep, advance: (ms) => void (now += ms) };
}

// ---- fronts: plain node HTTP servers ----

export interface Front {
  url: string;
  host: string;
  port: number;
  server: http.Server;
  stop(): Promise<void>;
}

export async function startFront(t: TestContext, handler: http.RequestListener): Promise<Front> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  let stopped = false;
  const stop = () =>
    new Promise<void>((resolve) => {
      if (stopped) return resolve();
      stopped = true;
      server.close(() => resolve());
      server.closeAllConnections();
    });
  t.after(stop);
  return { url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, port, server, stop };
}

/** A promise to open later: fronts wait on it to hold a response mid-body. */
export function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** Holds every FileHandle.writev of this process until open() (undone after the test). */
export async function holdWrites(t: TestContext, dir: string): Promise<{ open(): void }> {
  const writes = gate();
  const probe = await fs.open(path.join(dir, 'probe'), 'w');
  const prototype = Object.getPrototypeOf(probe) as { writev: (...args: unknown[]) => Promise<unknown> };
  await probe.close();
  await fs.rm(path.join(dir, 'probe'));
  const writev = prototype.writev;
  prototype.writev = async function (this: unknown, ...args: unknown[]) {
    await writes.opened;
    return writev.apply(this, args);
  };
  t.after(() => {
    writes.open();
    prototype.writev = writev;
  });
  return writes;
}

/** Forwards a request to another server (same path and headers), piping both bodies. */
export function forward(req: http.IncomingMessage, res: http.ServerResponse, targetPort: number): void {
  const upstream = http.request(
    { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: { ...req.headers, host: `127.0.0.1:${targetPort}` } },
    (response) => {
      res.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(res);
    },
  );
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
}

// ---- CNCF distribution ----

export interface Distribution {
  url: string;
  host: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

/** Starts /usr/bin/docker-registry on 127.0.0.1 (port from the OS), optionally with htpasswd auth. */
export async function startDistribution(t: TestContext, auth?: { username: string; password: string }): Promise<Distribution> {
  const dir = await makeTempDir(t, 'broken-reg-distribution-');
  const lines = ['version: 0.1', 'log:', '  level: info', 'storage:', `  filesystem:`, `    rootdirectory: ${dir}/data`, '  delete:', '    enabled: true'];
  lines.push('http:', '  addr: 127.0.0.1:0');
  if (auth) {
    const hash = await run('htpasswd', ['-Bbn', auth.username, auth.password]);
    await fs.writeFile(path.join(dir, 'htpasswd'), hash.stdout);
    lines.push('auth:', '  htpasswd:', '    realm: test', `    path: ${dir}/htpasswd`);
  }
  await fs.writeFile(path.join(dir, 'config.yml'), `${lines.join('\n')}\n`);
  const child = spawn('/usr/bin/docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid ?? 0;
  let stopped = false;
  const stop = async () => {
    if (stopped || child.exitCode !== null) return;
    stopped = true;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(pid, 'SIGTERM');
    await exited;
  };
  t.after(stop);
  const port = await new Promise<number>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`docker-registry did not start: ${seen.slice(-500)}`)), TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      seen = (seen + chunk.toString()).slice(-4000);
      const match = /listening on 127\.0\.0\.1:(\d+)/.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    };
    child.stderr.on('data', onData);
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`docker-registry exited (${code}): ${seen.slice(-500)}`)));
  });
  return { url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, port, pid, stop };
}

// ---- pushing to an upstream over HTTP ----

export interface PushTarget {
  url: string;
  authorization?: string;
}

async function send(target: PushTarget, pathAndQuery: string, init: RequestInit): Promise<Response> {
  const headers = new Headers(init.headers);
  if (target.authorization) headers.set('Authorization', target.authorization);
  return fetch(`${target.url}${pathAndQuery}`, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) });
}

/** POST+PUT upload (distribution refuses the single-POST form without a mount). */
export async function pushBlobTo(target: PushTarget, name: string, bytes: Buffer, digest: string): Promise<void> {
  const started = await send(target, `/v2/${name}/blobs/uploads/`, { method: 'POST' });
  await started.arrayBuffer();
  if (started.status !== 202) throw new Error(`upload start for ${name}: ${started.status}`);
  const location = new URL(started.headers.get('location') ?? '', target.url);
  location.searchParams.set('digest', digest);
  const done = await send(target, `${location.pathname}${location.search}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream' },
    body: new Uint8Array(bytes),
  });
  await done.arrayBuffer();
  if (done.status !== 201) throw new Error(`upload finish for ${name} ${digest}: ${done.status}`);
}

export async function pushManifestTo(target: PushTarget, name: string, reference: string, bytes: Buffer, mediaType: string): Promise<void> {
  const response = await send(target, `/v2/${name}/manifests/${reference}`, { method: 'PUT', headers: { 'Content-Type': mediaType }, body: new Uint8Array(bytes) });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`manifest ${name}:${reference}: ${response.status} ${text}`);
}

// ---- clients ----

/** GET (or HEAD) through a registry, with a timeout, returning the whole body. */
export async function pull(base: { url: string }, pathAndQuery: string, init: RequestInit = {}) {
  const response = await fetch(`${base.url}${pathAndQuery}`, { ...init, signal: init.signal ?? AbortSignal.timeout(TIMEOUT_MS) });
  return { response, body: Buffer.from(await response.arrayBuffer()) };
}

/** Writes `<dir>/config.json` with auths entries for the given hosts. */
export async function writeDockerConfig(dir: string, auths: Record<string, { username: string; password: string }>): Promise<string> {
  const entries = Object.fromEntries(
    Object.entries(auths).map(([host, c]) => [host, { auth: Buffer.from(`${c.username}:${c.password}`).toString('base64') }]),
  );
  await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify({ auths: entries }));
  return dir;
}

export function run(file: string, args: string[], timeoutMs = 60_000): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** skopeo with a permissive temp policy, a timeout and TLS verification off for the source. */
export async function skopeo(dir: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const policy = path.join(dir, 'policy.json');
  await fs.writeFile(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  return run('/usr/bin/skopeo', ['--policy', policy, '--command-timeout', '60s', ...args], 90_000);
}

/** A request through a registry with a timeout; the body is left for the caller. */
export function ask(base: { url: string }, pathAndQuery: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${base.url}${pathAndQuery}`, { ...init, signal: init.signal ?? AbortSignal.timeout(TIMEOUT_MS) });
}
