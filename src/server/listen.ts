// Starts a server for an app on a host and port (0 for one from the OS), over HTTP or HTTPS, and
// stops it. Garbage or a TLS handshake on the plain port gets a 400 and a closed socket, nothing more.
// Slow clients are cut: a request head must arrive whole within headersMs (408, as Node does), and a
// request body that sends nothing for bodyIdleMs gets a 408 and a closed connection; the handler
// reading it sees the body fail, so nothing partial is kept. Responses may take as long as they like
// (broken/timeout waits on purpose), so there is no overall request or socket timeout.
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { RegistryError, envelope } from '../oci/errors.js';

/** What to serve: a request listener and the server options it needs (server/app.ts makes one). */
export interface Listenable {
  handler: RequestListener;
  serverOptions?: http.ServerOptions;
}

export interface Timeouts {
  /** The whole request head (request line and headers) must arrive within this long. */
  headersMs: number;
  /** A request body that receives nothing for this long is cut; 0 turns it off. */
  bodyIdleMs: number;
  /** An idle keep-alive connection is closed after this long. */
  keepAliveMs: number;
}

export const DEFAULT_LISTEN_TIMEOUTS: Timeouts = { headersMs: 60_000, bodyIdleMs: 60_000, keepAliveMs: 5_000 };

export interface ListenOptions {
  host: string;
  port: number;
  tls?: { cert: Buffer; key: Buffer };
  timeouts?: Partial<Timeouts>;
}

export interface RunningServer {
  url: string;
  port: number;
  server: http.Server;
  /** Stops accepting, lets requests in flight finish for up to graceMs, then cuts the rest. */
  close(graceMs?: number): Promise<void>;
}

export async function listen(app: Listenable, options: ListenOptions): Promise<RunningServer> {
  const timeouts: Timeouts = { ...DEFAULT_LISTEN_TIMEOUTS, ...options.timeouts };
  const serverOptions: http.ServerOptions = {
    requestTimeout: 0,
    headersTimeout: timeouts.headersMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    // Node checks the head deadline on this interval (30 s by default): a quarter of it keeps the cut
    // within 25% of headersMs.
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(timeouts.headersMs / 4))),
    ...app.serverOptions,
  };
  const handler: RequestListener = (req, res) => {
    guardBody(req, res, timeouts.bodyIdleMs);
    app.handler(req, res);
  };
  const server = options.tls
    ? https.createServer({ ...serverOptions, cert: options.tls.cert, key: options.tls.key }, handler)
    : http.createServer(serverOptions, handler);
  if (options.tls) answerPlainHttp(server);
  // Node answers an Expect it does not know (anything but 100-continue) itself; ours carries the envelope.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    const { status, headers, body } = envelope(new RegistryError('EXPECTATION_FAILED', `Expect: ${String(req.headers.expect).slice(0, 100)} is not supported`));
    res.writeHead(status, { ...headers, Connection: 'close' });
    res.end(body);
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    // A response already under way on this connection must not get a second status line in its body.
    const busy = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage?.headersSent === true;
    if (socket.writable && !busy && error.code !== 'ECONNRESET' && !socket.destroyed) {
      socket.end(clientErrorResponse(error, timeouts));
    }
    socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `${options.tls ? 'https' : 'http'}://${host}:${port}`;
  return {
    url,
    port,
    server,
    close: (graceMs = 0) =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        timer.unref();
      }),
  };
}

/**
 * A plain-HTTP request on the TLS port gets a 400 saying so, as Go registries answer, instead of a
 * connection closed without a word (containerd users then see why). The first byte tells: a TLS
 * handshake starts with 0x16; anything else is given the answer and closed.
 */
function answerPlainHttp(server: http.Server): void {
  const tlsListeners = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    socket.on('error', () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.pause();
      socket.unshift(first);
      if (first[0] === 0x16) {
        for (const listener of tlsListeners) listener.call(server, socket);
        return;
      }
      // Ended and then dropped: the rest of what the client sent is never read.
      socket.end(rawResponse(400, 'Bad Request', new RegistryError('BAD_REQUEST', 'client sent an HTTP request to an HTTPS server')), () => socket.destroy());
    });
  });
}

/**
 * The raw answer to a request Node's parser refused before the app saw it: a head too slow (408) or
 * too large (431) in the OCI envelope, anything else (not HTTP at all) a bare 400.
 */
function clientErrorResponse(error: NodeJS.ErrnoException, timeouts: Timeouts): string {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return rawResponse(408, 'Request Timeout', new RegistryError('TIMEOUT', `the request head did not arrive within ${timeouts.headersMs} ms`));
  }
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    const tooLarge = new RegistryError('HEADERS_TOO_LARGE', `the request head is larger than ${http.maxHeaderSize} bytes`);
    return rawResponse(431, 'Request Header Fields Too Large', tooLarge);
  }
  if (error.code === 'HPE_INVALID_EOF_STATE') {
    return rawResponse(400, 'Bad Request', new RegistryError('BLOB_UPLOAD_INVALID', 'the request ended before its body was complete'));
  }
  return rawResponse(400, 'Bad Request', new RegistryError('BAD_REQUEST', 'the request is not HTTP/1.1 the server can read'));
}

function rawResponse(status: number, reason: string, error: RegistryError): string {
  const { headers, body } = envelope(error);
  const lines = Object.entries({ ...headers, Connection: 'close' }).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${status} ${reason}\r\n${lines.join('')}\r\n${body.toString('utf8')}`;
}

/**
 * Cuts a request body that stalls: when nothing arrives for idleMs, answers 408 TIMEOUT (unless a
 * response has begun) and then destroys the request, which fails the handler's read of the body so it
 * throws its partial writes away. The socket timeout is only armed while the body is being received:
 * once the body is complete (read or not) a slow handler is never cut.
 */
function guardBody(req: IncomingMessage, res: ServerResponse, idleMs: number): void {
  if (idleMs <= 0 || req.complete || !hasBody(req)) return;
  let armed = true;
  const disarm = (clearSocket: boolean) => {
    if (!armed) return;
    armed = false;
    req.off('timeout', onIdle);
    res.off('timeout', onIdle);
    // Only while the response is still to come: once it is finished, Node has put its own keep-alive
    // timeout on the socket.
    if (clearSocket) req.socket.setTimeout(0);
  };
  // Node emits 'timeout' on the request only while its body is incomplete, and on the response always;
  // listening on both keeps Node from destroying the socket of a complete request that is slow to answer.
  const onIdle = () => {
    if (req.complete) {
      disarm(!res.writableFinished);
      return;
    }
    disarm(false);
    if (res.headersSent || !res.writable) {
      req.destroy();
      return;
    }
    const { status, headers, body } = envelope(new RegistryError('TIMEOUT', `the request body stalled: nothing arrived for ${idleMs} ms`));
    res.writeHead(status, { ...headers, Connection: 'close' });
    res.end(body, () => req.destroy());
  };
  req.setTimeout(idleMs);
  req.on('timeout', onIdle);
  res.on('timeout', onIdle);
  req.once('end', () => disarm(!res.writableFinished));
  req.once('error', () => disarm(false));
  res.once('finish', () => disarm(false));
  res.once('close', () => disarm(false));
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}
