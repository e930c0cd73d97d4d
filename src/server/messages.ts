// Request and response classes whose objects are born with an Express app's prototypes.
//
// For every request, Express moves the request and the response onto its own prototypes with
// Object.setPrototypeOf. V8 then gives up its fast paths for both objects, and every property access
// in Node's HTTP code and ours gets slower: a small response costs about twice as much. When the
// objects already have those prototypes, Express's call changes nothing, so the server creates them
// that way (Node's http and https servers take the classes as options). Express still handles every
// request exactly as before.
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';

export interface MessageClasses {
  IncomingMessage: typeof http.IncomingMessage;
  ServerResponse: typeof http.ServerResponse;
}

/** True for an Express app (it carries the request and response prototypes its requests get). */
export function isExpressApp(value: unknown): value is Express {
  const parts = value as { request?: unknown; response?: unknown };
  return typeof value === 'function' && typeof parts.request === 'object' && typeof parts.response === 'object';
}

export function messageClasses(app: Express): MessageClasses {
  // Node's IncomingMessage and ServerResponse are plain constructor functions, so they can initialise
  // an object made from another prototype that leads back to them (Express's prototypes do).
  function Request(this: http.IncomingMessage, socket: Socket) {
    Reflect.apply(http.IncomingMessage, this, [socket]);
  }
  function Response(this: http.ServerResponse, req: http.IncomingMessage, options?: unknown) {
    Reflect.apply(http.ServerResponse, this, [req, options]);
  }
  Request.prototype = app.request;
  Response.prototype = app.response;
  return {
    IncomingMessage: Request as unknown as typeof http.IncomingMessage,
    ServerResponse: Response as unknown as typeof http.ServerResponse,
  };
}
