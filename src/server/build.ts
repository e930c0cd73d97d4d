// Builds a whole registry from its config: the store, the upload sessions, the scenarios and the app,
// ready to listen, and close() to stop everything it started. Used by `serve`, the library and tests.
import { FsStore } from '../store/store.js';
import { Uploads } from '../store/uploads.js';
import { systemClock, type Clock } from '../clock.js';
import type { ServeConfig } from '../config.js';
import { createProxyScenario } from '../proxy/index.js';
import { createApp, type App } from './app.js';
import type { RequestLog } from './log.js';
import type { ServerDeps } from '../http/context.js';
import { createAuth } from '../auth/index.js';
import { defaultScenarios, selfAuthenticated } from '../scenarios/index.js';

export interface RegistryParts {
  config: ServeConfig;
  log: RequestLog;
  clock?: Clock;
  random?: () => number;
  /** Where the proxy finds upstream credentials (DOCKER_CONFIG, HOME). */
  env?: NodeJS.ProcessEnv;
  /** Sweep expired upload sessions in the background (serve does; tests call expire() themselves). */
  expireUploads?: { onError(error: unknown): void };
}

export interface Registry {
  app: App;
  deps: ServerDeps;
  /** Stops what the registry started: the upload sweep, the upstream connections, the hashing thread. */
  close(): Promise<void>;
}

export async function buildRegistry({ config, log, clock = systemClock, random = Math.random, env = {}, expireUploads }: RegistryParts): Promise<Registry> {
  // First: a bad --htpasswd or --token-key stops the start before anything is opened.
  const table = defaultScenarios();
  const auth = createAuth(config.auth, {
    clock,
    exempt: (route) => route.name !== '' && selfAuthenticated(table, route.name) !== undefined,
    delegate: (name, origin) => {
      const owner = selfAuthenticated(table, name);
      return owner?.decorator.realm?.(owner.rules, origin);
    },
  });
  const store = await FsStore.open(config.store);
  const uploads = new Uploads(store, () => clock.now(), { timeoutMs: config.uploadTimeoutMs });
  const deps: ServerDeps = { store, uploads, config, clock, random };
  const proxy = createProxyScenario(config.proxy, { clock, env });
  const endpoints = [auth.endpoint, ...(table.decorators ?? []).flatMap((d) => d.endpoints ?? [])];
  const app = createApp({ deps, scenarios: { ...table, proxy: proxy.scenario }, log, guard: auth.guard, endpoints });
  const stopExpiry = expireUploads ? uploads.startExpiry(undefined, expireUploads.onError) : async () => undefined;
  let closing: Promise<void> | undefined;
  return {
    app,
    deps,
    close: () =>
      (closing ??= (async () => {
        await stopExpiry();
        await proxy.close();
        for (const decorator of table.decorators ?? []) await decorator.close?.();
        await store.close();
      })()),
  };
}
