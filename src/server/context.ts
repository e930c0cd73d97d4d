// What every handler receives: the request, the response, the parsed route and the injected parts.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Store } from '../store/store.js';
import type { Uploads } from '../store/uploads.js';
import type { Clock } from '../clock.js';
import type { ServeConfig } from '../config.js';
import type { Route } from './routes.js';
import type { ChunkPool } from './http.js';

export interface ServerDeps {
  store: Store;
  uploads: Uploads;
  config: ServeConfig;
  clock: Clock;
  /** A source of uniform numbers in [0, 1), for probabilistic behaviour. */
  random: () => number;
  /** Buffers for sending file bodies. */
  chunks: ChunkPool;
}

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  route: Route;
  query: URLSearchParams;
  deps: ServerDeps;
  /** Aborts when the client goes away before the response is complete. */
  signal: AbortSignal;
}

export type Handler = (ctx: RequestContext) => Promise<void>;
