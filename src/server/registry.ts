// Builds a whole registry from a store directory: the store, the upload sessions, the scenarios and
// the Express app, ready to listen. Used by `serve` and by tests.
import { Store } from '../store/store.js';
import { Uploads } from '../store/uploads.js';
import { systemClock, type Clock } from '../clock.js';
import type { ServeConfig } from '../config.js';
import { defaultScenarios } from '../scenarios/index.js';
import { createProxyScenario } from '../proxy/index.js';
import { createApp } from './app.js';
import { ChunkPool } from './http.js';
import type { RequestLog } from './log.js';
import type { ServerDeps } from './context.js';

export interface RegistryParts {
  config: ServeConfig;
  log: RequestLog;
  clock?: Clock;
  random?: () => number;
  /** Where the proxy finds upstream credentials (DOCKER_CONFIG, HOME). */
  env?: NodeJS.ProcessEnv;
}

export async function buildRegistry({ config, log, clock = systemClock, random = Math.random, env = {} }: RegistryParts) {
  const store = await Store.open(config.store);
  const deps: ServerDeps = { store, uploads: new Uploads(store, () => clock.now(), { timeoutMs: config.uploadTimeoutMs }), config, clock, random, chunks: new ChunkPool() };
  const scenarios = { ...defaultScenarios(), proxy: createProxyScenario(config.proxy, { clock, env }) };
  const app = createApp({ deps, scenarios, log });
  return { app, deps };
}
