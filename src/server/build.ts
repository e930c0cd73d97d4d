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
import type { Decorator } from '../scenarios/scenario.js';
import { Journal } from '../journal/journal.js';
import { RuleSet } from '../control/rules.js';
import { loadRulesFile } from '../control/rules-file.js';
import { createControlPlane, isControlPath } from '../control/plane.js';

export interface RegistryParts {
  config: ServeConfig;
  log: RequestLog;
  clock?: Clock;
  random?: () => number;
  /** Where the proxy finds upstream credentials (DOCKER_CONFIG, HOME). */
  env?: NodeJS.ProcessEnv;
  /** Sweep expired upload sessions in the background (serve does; tests call expire() themselves). */
  expireUploads?: { onError(error: unknown): void };
  /** Decorators beyond the default table's (`broken/<name>/<rules>/<repository>`, run-time rules). */
  decorators?: readonly Decorator[];
  /** The certificate the registry is served with (listen's tls), for the listeners it opens itself. */
  tls?: { cert: Buffer; key: Buffer };
  /** Hears of what failed in the background, where no client sees it (see ProxyParts.warn). */
  warn?: (message: string) => void;
}

export interface Registry {
  app: App;
  deps: ServerDeps;
  journal: Journal;
  rules: RuleSet;
  /** Starts every count (run-time rules, decorators) and the journal again; the rules stay. */
  reset(): void;
  /** Stops what the registry started: the upload sweep, the upstream connections, the hashing thread. */
  close(): Promise<void>;
}

export async function buildRegistry({ config, log, clock = systemClock, random = Math.random, env = {}, expireUploads, decorators = [], tls, warn }: RegistryParts): Promise<Registry> {
  const defaults = defaultScenarios();
  // Given decorators (the library's, tests') come first and replace the built-in one of their name.
  const builtIn = (defaults.decorators ?? []).filter((d) => !decorators.some((given) => given.name === d.name));
  const table = { ...defaults, decorators: [...decorators, ...builtIn] };
  const journal = new Journal(config.journalSize);
  const rules = new RuleSet(table.decorators);
  if (config.rulesFile) await loadRulesFile(config.rulesFile, rules);
  const reset = () => {
    journal.clear();
    rules.resetCounts();
    for (const decorator of table.decorators) decorator.reset?.();
  };
  const control = createControlPlane({ journal, rules, reset, access: { allow: config.adminAllow, token: config.adminToken } });
  // The control plane's own requests are logged but kept out of the journal, which they would flood.
  const record = (entry: Parameters<RequestLog>[0]) => {
    if (!isControlPath(entry.path)) journal.record(entry);
    log(entry);
  };
  // Before the store opens: a bad --htpasswd or --token-key stops the start with nothing opened.
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
  const deps: ServerDeps = { store, uploads, config, clock, random, ...(tls ? { tls } : {}) };
  const proxy = createProxyScenario(config.proxy, { clock, env, warn });
  const endpoints = [auth.endpoint, ...(table.decorators ?? []).flatMap((d) => d.endpoints ?? [])];
  const app = createApp({ deps, scenarios: { ...table, proxy: proxy.scenario }, log: record, guard: auth.guard, endpoints, control, rules });
  const stopExpiry = expireUploads ? uploads.startExpiry(undefined, expireUploads.onError) : async () => undefined;
  let closing: Promise<void> | undefined;
  return {
    app,
    deps,
    journal,
    rules,
    reset,
    close: () =>
      (closing ??= (async () => {
        control.close();
        await stopExpiry();
        await proxy.close();
        for (const decorator of table.decorators ?? []) await decorator.close?.();
        await store.close();
      })()),
  };
}
