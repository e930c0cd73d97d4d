// Starts a real broken-reg server on 127.0.0.1 with an OS-assigned port and a temp store, and stops
// it (and removes the store) when the test ends.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { buildRegistry } from '../../src/server/build.js';
import { listen, type RunningServer } from '../../src/server/listen.js';
import type { RequestLogEntry } from '../../src/server/log.js';
import { resolveServeConfig, type ServeConfig } from '../../src/config.js';
import { resolveProxyOptions } from '../../src/proxy/index.js';
import type { Clock } from '../../src/clock.js';
import type { ServerDeps } from '../../src/http/context.js';
import type { Decorator } from '../../src/scenarios/scenario.js';
import type { Store } from '../../src/store/store.js';

export interface TestRegistry {
  url: string;
  /** host:port, as clients name the registry. */
  host: string;
  port: number;
  storeDir: string;
  deps: ServerDeps;
  logs: RequestLogEntry[];
  server: RunningServer;
  /** Stops the server (the store stays, for restart tests). */
  stop(): Promise<void>;
}

export async function makeTempDir(t: TestContext | undefined, prefix = 'broken-reg-test-'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  t?.after(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Tests never reach the internet: unless a test configures its own upstream, names outside broken/
 * go to 127.0.0.1:9, where nothing listens, and every other host is refused by the allowlist.
 */
export const OFFLINE_PROXY = resolveProxyOptions({ upstream: '127.0.0.1:9', allowUpstream: ['127.0.0.1:9'], upstreamInsecure: ['127.0.0.1:9'] });

export interface StartOptions {
  storeDir?: string;
  config?: Partial<ServeConfig>;
  clock?: Clock;
  random?: () => number;
  /** Serve HTTPS with this certificate (the URL then starts with https://). */
  tls?: { cert: Buffer; key: Buffer };
  decorators?: readonly Decorator[];
}

export async function startRegistry(t: TestContext, options: StartOptions = {}): Promise<TestRegistry> {
  // node:test runs after-hooks in the order they were added: the server stops before its store goes.
  const ownStore = options.storeDir === undefined;
  const storeDir = options.storeDir ?? (await makeTempDir(undefined));
  const config: ServeConfig = { ...resolveServeConfig({ store: storeDir, port: '0' }, {}), proxy: OFFLINE_PROXY, ...options.config };
  const logs: RequestLogEntry[] = [];
  const registry = await buildRegistry({ config, log: (entry) => logs.push(entry), clock: options.clock, random: options.random, decorators: options.decorators, tls: options.tls });
  const { deps } = registry;
  const server = await listen(registry.app, { host: '127.0.0.1', port: 0, tls: options.tls });
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.close(0);
    await registry.close();
  };
  t.after(async () => {
    await stop();
    if (ownStore) await fs.rm(storeDir, { recursive: true, force: true });
  });
  return { url: server.url, host: `127.0.0.1:${server.port}`, port: server.port, storeDir, deps, logs, server, stop };
}

/**
 * The 5xx answers in a registry's log, but for blob probes of names outside broken/ that the offline
 * proxy answers BAD_GATEWAY: skopeo and podman (as root) keep one blob-info cache for the machine,
 * keyed by host:port and repository, so a client may ask a new registry that got an earlier one's
 * port whether it holds a blob under a name the earlier one served (the proxy test's team/multi).
 * Those names go to the proxy, whose upstream 127.0.0.1:9 is down by design.
 */
export function serverErrors(logs: readonly RequestLogEntry[]): RequestLogEntry[] {
  const staleProbe = (entry: RequestLogEntry) =>
    entry.scenario === 'proxy' && entry.error === 'BAD_GATEWAY' && (entry.method === 'HEAD' || entry.method === 'GET') && entry.path.includes('/blobs/');
  return logs.filter((entry) => entry.status >= 500 && !staleProbe(entry));
}

/** Counts the blob writers the store opens from now on (each generated or pushed blob opens one). */
export function countBlobWriters(store: Store): () => number {
  let opened = 0;
  const open = store.blobWriter.bind(store);
  store.blobWriter = async (...args) => {
    opened++;
    return open(...args);
  };
  return () => opened;
}
