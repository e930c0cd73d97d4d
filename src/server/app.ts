// createApp builds the Express app from injected parts and never listens itself. One middleware
// parses the route and dispatches to the scenario that owns the repository; one error middleware
// writes every error. The app is kept lean: no etag, no query parser, nothing built per request that
// a handler does not ask for (the context's query and abort signal are made on first use).
import express, { type NextFunction, type Request, type Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError } from '../oci/errors.js';
import { requireName } from '../oci/reference.js';
import { resolveScenario, type ScenarioTable } from '../scenarios/index.js';
import type { RepositoryOperation } from '../scenarios/scenario.js';
import { answerCatalog } from '../registry/catalog.js';
import type { RequestContext, ServerDeps } from './context.js';
import { parseRoute, type Route } from './routes.js';
import { pathOf, queryOf, sendJson } from './http.js';
import { watchRequest, type RequestLog, type RequestNotes } from './log.js';
import { warningHeaders } from './warnings.js';

export interface AppOptions {
  deps: ServerDeps;
  scenarios: ScenarioTable;
  log: RequestLog;
}

const API_VERSION = { 'Docker-Distribution-API-Version': 'registry/2.0' };

/** Operations that change the store: outside a pushable scenario they are refused with DENIED. */
const WRITES: ReadonlySet<RepositoryOperation> = new Set([
  'manifest.put',
  'manifest.delete',
  'blob.delete',
  'upload.start',
  'upload.status',
  'upload.patch',
  'upload.finish',
  'upload.cancel',
]);

const BASE_BODY = '{}';

export function createApp({ deps, scenarios, log }: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);
  if (deps.config.warnings.length > 0) app.use(warningHeaders(deps.config.warnings, deps.random));
  app.use(async (req: Request, res: Response) => {
    const notes = watchRequest(log, req, res);
    res.locals.notes = notes;
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    await dispatch(req, res, notes);
  });
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    writeError(error, req, res, res.locals.notes as RequestNotes | undefined);
  });
  return app;

  /** Answers the request, or throws (or rejects) with what writeError turns into the response. */
  function dispatch(req: IncomingMessage, res: ServerResponse, notes: RequestNotes): Promise<void> | undefined {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const match = parseRoute(method, pathOf(url));
    if (match.kind === 'not-found') throw new RegistryError('NOT_FOUND', `no route for ${method} ${pathOf(url).slice(0, 200)}`);
    if (match.kind === 'method-not-allowed') {
      throw new RegistryError('UNSUPPORTED', `${method} is not supported here; allowed: ${match.allowed.join(', ')}`, {
        headers: { Allow: match.allowed.join(', ') },
      });
    }
    if (match.route.operation === 'base') {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': 2 });
      res.end(BASE_BODY);
      return undefined;
    }
    const ctx = new Context(req, res, match.route, deps);
    if (match.route.operation === 'catalog') return answerCatalog(ctx, deps.config.catalog);
    const operation = match.route.operation;
    const name = requireName(match.route.name);
    const scenario = resolveScenario(scenarios, name);
    notes.scenario = scenario.name;
    const handler = scenario.operations[operation];
    if (!handler) {
      const reason = scenario.unsupported?.(operation, name);
      if (WRITES.has(operation)) {
        throw new RegistryError('DENIED', reason ?? `${name} is read-only: pushes go to broken/prepared or broken/prepared/<path>`);
      }
      throw new RegistryError('UNSUPPORTED', reason ?? `${operation} is not supported by the ${scenario.name} scenario`);
    }
    return handler(ctx);
  }
}

/** A handler's view of the request. The query and the abort signal are built on first use only. */
class Context implements RequestContext {
  private controller?: AbortController;
  private parsedQuery?: URLSearchParams;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly route: Route,
    readonly deps: ServerDeps,
  ) {}

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
  if (!(error instanceof RegistryError) && notes) notes.internalError = error;
  // Unread request bodies (a refused upload) must not leave the connection in an unknown state.
  const headers: Record<string, string> = { ...API_VERSION, ...registryError.headers };
  if (!req.complete) headers.Connection = 'close';
  sendJson(res, registryError.status, registryError.toJSON(), headers);
}

function toRegistryError(error: unknown, req: IncomingMessage): RegistryError {
  if (error instanceof RegistryError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new RegistryError('UNAVAILABLE', 'the store is out of space; nothing was kept');
  }
  if ((req.destroyed && !req.complete) || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new RegistryError('BLOB_UPLOAD_INVALID', 'the request was cut off before it completed');
  }
  return new RegistryError('INTERNAL_SERVER_ERROR', 'internal error; see the server log');
}
