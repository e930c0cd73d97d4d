// Paths outside /v2/ that the server answers before the registry routes: the token services' realms.
// An endpoint gets the request and returns a ResponsePlan; a thrown RegistryError is written as usual.
import type { IncomingMessage } from 'node:http';
import type { ServerDeps } from './context.js';
import type { ResponsePlan } from './response.js';

export interface EndpointRequest {
  req: IncomingMessage;
  method: string;
  /** The raw path, without the query. */
  path: string;
  query: URLSearchParams;
  deps: ServerDeps;
  /** Aborts when the client goes away. */
  signal: AbortSignal;
  /** The request body, refused with TOO_LARGE beyond limit bytes. */
  body(limit: number): Promise<Buffer>;
  /** Adds what the request asked for to its log line. Never pass a secret. */
  note(detail: string): void;
}

export interface Endpoint {
  /** The name in the request log's scenario column. */
  readonly name: string;
  matches(path: string): boolean;
  handle(request: EndpointRequest): Promise<ResponsePlan>;
}
