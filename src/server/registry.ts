// Builds a whole registry from a store directory: the store, the upload sessions, the scenarios and
// the Express app, ready to listen. Used by `serve` and by tests.
import type { RequestListener } from 'node:http';
import { Store } from '../store/store.js';
import { Uploads } from '../store/uploads.js';
import { systemClock, type Clock } from '../clock.js';
import type { ServeConfig } from '../config.js';
import { defaultScenarios } from '../scenarios/index.js';
import { createApp } from './app.js';
import type { RequestLog } from './log.js';
import type { ServerDeps } from './context.js';

export interface RegistryParts {
  config: ServeConfig;
  log: RequestLog;
  clock?: Clock;
  random?: () => number;
}

export async function buildRegistry({ config, log, clock = systemClock, random = Math.random }: RegistryParts) {
  const store = await Store.open(config.store);
  const deps: ServerDeps = { store, uploads: new Uploads(store, () => clock.now()), config, clock, random };
  const app = createApp({ deps, scenarios: defaultScenarios(), log });
  return { app: app as unknown as RequestListener, deps };
}
