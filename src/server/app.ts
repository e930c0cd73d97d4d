// createApp builds the Express app from injected parts and never listens itself: it hands back a
// request listener and the server options that listener wants. One middleware parses the route and
// dispatches to the scenario that owns the repository; one error middleware writes every error. The
// app is kept lean: no etag, no query parser, nothing built per request that a handler does not ask
// for (the context's query and abort signal are made on first use).
import express, { type NextFunction, type Request, type Response } from 'express';
import type { IncomingMessage, RequestListener, ServerOptions, ServerResponse } from 'node:http';
import { API_VERSION_HEADER, RegistryError, envelope } from '../oci/errors.js';
import { serveRepository, type ScenarioTable } from '../scenarios/index.js';
import { answerCatalog } from '../registry/catalog.js';
import type { Destination, RequestBody, RequestContext, ServerDeps } from '../http/context.js';
import { parseRoute, type Route } from '../http/routes.js';
import { pathOf, queryOf } from '../http/request.js';
import { ChunkPool, writePlan, type ResponsePlan } from '../http/response.js';
import { toRegistryError } from '../http/errors.js';
import { messageClasses } from './messages.js';
import { countReceived, watchRequest, type RequestLog, type RequestNotes } from './log.js';
import { warningHeaders } from './warnings.js';
import type { Endpoint } from '../http/endpoint.js';
import { readBody } from '../http/request.js';
import { ownedByReader } from '../store/owned-chunks.js';
import type { Guard } from '../auth/guard.js';
import { isControlPath, type ControlPlane } from '../control/plane.js';
import type { RuleSet } from '../control/rules.js';

export interface AppOptions {
  deps: ServerDeps;
  scenarios: ScenarioTable;
  log: RequestLog;
  /** The auth check every /v2/ request passes first (serve --auth basic|token). */
  guard?: Guard;
  /** Paths outside /v2/ answered before the registry routes (the token realms). */
  endpoints?: readonly Endpoint[];
  /** The control plane (/_broken/...), answered before the /v2/ route parser. */
  control?: ControlPlane;
  /** Run-time rules: every routed request passes through them on its way to the dispatch below. */
  rules?: RuleSet;
}

const BASE_ANSWER: ResponsePlan = { status: 200, headers: { 'Content-Type': 'application/json', 'Content-Length': 2 }, body: { kind: 'bytes', bytes: Buffer.from('{}') } };

export interface App {
  handler: RequestListener;
  /** What the HTTP server must be created with for this handler (see messages.ts). */
  serverOptions: Pick<ServerOptions, 'IncomingMessage' | 'ServerResponse'>;
}

export function createApp({ deps, scenarios, log, guard, endpoints = [], control, rules }: AppOptions): App {
  const app = express();
  const pool = new ChunkPool();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);
  if (deps.config.warnings.length > 0) app.use(warningHeaders(deps.config.warnings, deps.random));
  app.use(async (req: Request, res: Response) => {
    const notes = watchRequest(log, req, res);
    res.locals.notes = notes;
    res.setHeader('Docker-Distribution-API-Version', API_VERSION_HEADER['Docker-Distribution-API-Version']);
    if (control && isControlPath(req.url ?? '/')) {
      notes.scenario = 'control';
      return control.handle(req, res);
    }
    await dispatch(req, res, notes);
  });
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    writeError(error, req, res, res.locals.notes as RequestNotes | undefined);
  });
  // The body count starts when the request is announced, before its first chunk arrives.
  const handler: RequestListener = (req, res) => {
    countReceived(req);
    app(req, res);
  };
  return { handler, serverOptions: messageClasses(app) };

  /** Answers the request, or throws (or rejects) with what writeError turns into the response. */
  function dispatch(req: IncomingMessage, res: ServerResponse, notes: RequestNotes): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const path = pathOf(url);
    // Endpoints live outside /v2/, so registry requests never look for one.
    const endpoint = path.startsWith('/v2') ? undefined : endpoints.find((e) => e.matches(path));
    if (endpoint) return answerEndpoint(endpoint, req, res, notes);
    const match = parseRoute(method, path);
    if (match.kind === 'not-found') throw new RegistryError('NOT_FOUND', `no route for ${method} ${path.slice(0, 200)}`);
    if (match.kind === 'method-not-allowed') {
      throw new RegistryError('UNSUPPORTED', `${method} is not supported here; allowed: ${match.allowed.join(', ')}`, {
        headers: { Allow: match.allowed.join(', ') },
      });
    }
    notes.route = match.route;
    const ctx = new Context(req, res, match.route, deps, pool, notes);
    const seen = (scenario: { name: string }) => {
      notes.scenario = notes.scenario ? `${notes.scenario}>${scenario.name}` : scenario.name;
    };
    // The normal dispatch; a run-time rule that matches calls it as its decorator's next.
    const answer = (inner: RequestContext): Promise<void> => {
      if (inner.route.operation === 'base') return inner.respond(BASE_ANSWER);
      if (inner.route.operation === 'catalog') return answerCatalog(inner, deps.config.catalog);
      return serveRepository(scenarios, inner, seen);
    };
    const route = () => (rules ? rules.serve(ctx, answer, seen) : answer(ctx));
    if (guard) {
      const checked = guard(ctx);
      if (checked) return checked.then(route);
    }
    return route();
  }

  async function answerEndpoint(endpoint: Endpoint, req: IncomingMessage, res: ServerResponse, notes: RequestNotes): Promise<void> {
    notes.scenario = endpoint.name;
    const url = req.url ?? '/';
    const controller = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) controller.abort();
    });
    const plan = await endpoint.handle({
      req,
      method: req.method ?? 'GET',
      path: pathOf(url),
      query: queryOf(url),
      deps,
      signal: controller.signal,
      body: (limit) => readBody(req, req.headers['content-length'], limit, 'the request body'),
      note: (detail) => {
        notes.detail = notes.detail ? `${notes.detail}; ${detail}` : detail;
      },
    });
    await writePlan(res, plan, { pool, signal: controller.signal });
  }
}

/** A handler's view of the request. The query and the abort signal are built on first use only. */
class Context implements RequestContext {
  private controller?: AbortController;
  private parsedQuery?: URLSearchParams;
  readonly body: RequestBody;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly route: Route,
    readonly deps: ServerDeps,
    private readonly pool: ChunkPool,
    private readonly notes: RequestNotes,
  ) {
    // Node's parser keeps none of a body's chunks once it hands them over, so a blob written from
    // the request frees each chunk's memory as soon as it is in the file (store/owned-chunks.ts).
    this.body = ownedByReader(req);
  }

  note(fact: string): void {
    (this.notes.applied ??= []).push(fact);
  }

  respond(plan: ResponsePlan, to?: Destination): Promise<void> {
    if (to) return writePlan(to.res, plan, { pool: this.pool, signal: to.signal });
    return writePlan(this.res, plan, { pool: this.pool, signal: this.signal });
  }

  get query(): URLSearchParams {
    this.parsedQuery ??= queryOf(this.req.url ?? '');
    return this.parsedQuery;
  }

  /** Aborts when the client goes away before the response is complete. */
  get signal(): AbortSignal {
    if (!this.controller) {
      const controller = new AbortController();
      this.controller = controller;
      const res = this.res;
      if (res.closed) {
        if (!res.writableFinished) controller.abort();
      } else {
        res.once('close', () => {
          if (!res.writableFinished) controller.abort();
        });
      }
    }
    return this.controller.signal;
  }
}

/** The one place errors become responses: the OCI envelope with the status from the code table. */
export function writeError(error: unknown, req: IncomingMessage, res: ServerResponse, notes?: RequestNotes): void {
  const registryError = toRegistryError(error, req);
  if (notes) notes.errorCode = registryError.code;
  // A request whose body was read to the end is also "destroyed"; only a cut-off one has no reader.
  const cutOff = req.destroyed && !req.complete;
  if (res.headersSent || cutOff || !res.writable) {
    res.destroy();
    return;
  }
  if (!(error instanceof RegistryError) && notes && registryError.status >= 500) notes.internalError = error;
  const { status, headers, body } = envelope(registryError);
  // Unread request bodies (a refused upload) must not leave the connection in an unknown state.
  if (!req.complete) headers.Connection = 'close';
  res.writeHead(status, headers);
  res.end(body);
}
