// createApp builds the Express app from injected parts and never listens itself. One middleware
// parses the route and dispatches to the scenario that owns the repository; one writes errors.
import express, { type NextFunction, type Request, type Response } from 'express';
import { RegistryError } from '../oci/errors.js';
import { requireName } from '../oci/reference.js';
import { resolveScenario, type ScenarioTable } from '../scenarios/index.js';
import type { RepositoryOperation } from '../scenarios/scenario.js';
import { answerCatalog } from '../registry/catalog.js';
import type { RequestContext, ServerDeps } from './context.js';
import { parseRoute, type Route } from './routes.js';
import { pathOf, queryOf, sendJson } from './http.js';
import { requestLogger, type RequestLog } from './log.js';
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

export function createApp({ deps, scenarios, log }: AppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false);
  app.use(requestLogger(log));
  if (deps.config.warnings.length > 0) app.use(warningHeaders(deps.config.warnings, deps.random));

  app.use(async (req: Request, res: Response) => {
    res.setHeader('Docker-Distribution-API-Version', 'registry/2.0');
    const match = parseRoute(req.method, pathOf(req.url));
    if (match.kind === 'not-found') throw new RegistryError('NOT_FOUND', `no route for ${req.method} ${pathOf(req.url).slice(0, 200)}`);
    if (match.kind === 'method-not-allowed') {
      throw new RegistryError('UNSUPPORTED', `${req.method} is not supported here; allowed: ${match.allowed.join(', ')}`, {
        headers: { Allow: match.allowed.join(', ') },
      });
    }
    const ctx = contextFor(req, res, match.route, deps);
    if (match.route.operation === 'base') {
      sendJson(res, 200, {});
      return;
    }
    if (match.route.operation === 'catalog') {
      await answerCatalog(ctx, deps.config.catalog);
      return;
    }
    const operation = match.route.operation;
    const name = requireName(match.route.name);
    const scenario = resolveScenario(scenarios, name);
    res.locals.scenario = scenario.name;
    const handler = scenario.operations[operation];
    if (!handler) {
      const reason = scenario.unsupported?.(operation, name);
      if (WRITES.has(operation)) {
        throw new RegistryError('DENIED', reason ?? `${name} is read-only: pushes go to broken/prepared or broken/prepared/<path>`);
      }
      throw new RegistryError('UNSUPPORTED', reason ?? `${operation} is not supported by the ${scenario.name} scenario`);
    }
    await handler(ctx);
  });

  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    writeError(error, req, res);
  });
  return app;
}

function contextFor(req: Request, res: Response, route: Route, deps: ServerDeps): RequestContext {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  return { req, res, route, deps, query: queryOf(req.url), signal: controller.signal };
}

/** The one place errors become responses: the OCI envelope with the status from the code table. */
export function writeError(error: unknown, req: Request, res: Response): void {
  const registryError = toRegistryError(error, req);
  res.locals.errorCode = registryError.code;
  // A request whose body was read to the end is also "destroyed"; only a cut-off one has no reader.
  const cutOff = req.destroyed && !req.complete;
  if (res.headersSent || cutOff || !res.writable) {
    res.destroy();
    return;
  }
  if (!(error instanceof RegistryError)) res.locals.internalError = error;
  // Unread request bodies (a refused upload) must not leave the connection in an unknown state.
  const headers: Record<string, string> = { ...API_VERSION, ...registryError.headers };
  if (!req.complete) headers.Connection = 'close';
  sendJson(res, registryError.status, registryError.toJSON(), headers);
}

function toRegistryError(error: unknown, req: Request): RegistryError {
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
