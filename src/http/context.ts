// What every handler receives: the request, the parsed route, the injected parts, and the two seams a
// decorator (a fault, an auth check, a redirect) wraps: the request body a handler reads, and
// respond, through which every answer leaves the server as a ResponsePlan.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Store } from '../store/store.js';
import type { Uploads } from '../store/uploads.js';
import type { Clock } from '../clock.js';
import type { ServeConfig } from '../config.js';
import type { Route } from './routes.js';
import type { ResponsePlan } from './response.js';

export interface ServerDeps {
  store: Store;
  uploads: Uploads;
  config: ServeConfig;
  clock: Clock;
  /** A source of uniform numbers in [0, 1), for probabilistic behaviour. */
  random: () => number;
  /**
   * The certificate the registry serves when it serves TLS, for listeners it opens itself
   * (broken/redirect's storage origin speaks the registry's scheme with it).
   */
  tls?: { cert: Buffer; key: Buffer };
}

/**
 * Another response an answer goes to, sent on this request's behalf: broken/redirect's storage origin
 * serves the URL this request was given through the respond wrappers this request had, so the
 * decorators outside the redirect (broken/fault) shape the origin's bytes. A wrapper passes it on
 * unchanged; one that ends a connection ends this one's.
 */
export interface Destination {
  req: IncomingMessage;
  res: ServerResponse;
  /** Aborts when the destination's client goes away. */
  signal: AbortSignal;
  /** The answer to req without its Range, for a wrapper that answers the Range itself (range-<mode>). */
  unranged?: ResponsePlan;
}

/** The request body as handlers read it: the request itself, or what a decorator made of it. */
export type RequestBody = AsyncIterable<Uint8Array>;

export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  route: Route;
  query: URLSearchParams;
  deps: ServerDeps;
  /** Aborts when the client goes away before the response is complete. */
  signal: AbortSignal;
  /** The request body; read it from here, never from req. */
  body: RequestBody;
  /**
   * Sends the answer. Every successful response goes through here. With `to`, the answer goes to that
   * response instead of this request's own (a wrapper passes `to` along as it got it).
   */
  respond(plan: ResponsePlan, to?: Destination): Promise<void>;
  /**
   * Tells the request's journal entry and log line what a decorator or run-time rule applied
   * (e.g. "fault: status-503 times 2 of 2"). Optional, so a context made by hand need not have it.
   */
  note?(fact: string): void;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

/**
 * A context that answers differently: the same request, with some parts replaced (another route for
 * the inner name of a decorated repository, a wrapped body or respond). Lazily built parts (query,
 * signal) stay those of the original. A plain object of one shape rather than Object.create(ctx):
 * making each request's context a prototype cost a decorated request about a third more CPU.
 */
export function withContext(ctx: RequestContext, overrides: Partial<Pick<RequestContext, 'route' | 'body' | 'respond'>>): RequestContext {
  return {
    req: ctx.req,
    res: ctx.res,
    route: overrides.route ?? ctx.route,
    get query() {
      return ctx.query;
    },
    deps: ctx.deps,
    get signal() {
      return ctx.signal;
    },
    body: overrides.body ?? ctx.body,
    respond: overrides.respond ?? ((plan, to) => ctx.respond(plan, to)),
  };
}
