// The upstream transport for blob bodies: one HTTP/1.1 exchange on a connection of its own
// (`Connection: close`). A plain connection is read straight into 1 MiB blocks that the body hands on
// as views (net's `onread`), so a GiB costs 1,024 allocations; Node's sockets, and undici on them,
// allocate a new 64 KiB buffer for every read, and on a cold 1 GiB pull collecting those cost more CPU
// than relaying the bytes (bench/README.md, bench:proxy). A block is never written twice: a view stays
// valid for as long as a reader holds it. TLS connections hand on what the TLS layer decrypted. Small
// answers (manifests, tokens, HEADs) stay on undici's keep-alive pool (client.ts).
import net from 'node:net';
import tls from 'node:tls';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { BodyFramer, parseHead, ProtocolError } from './http1-parse.js';

/** The size of a block a plain connection is read into, unless the caller brings its own. */
export const BLOCK_BYTES = 1 << 20;
/** A block with less room left than this is dropped for a new one: every read gets at least this. */
const MIN_READ_ROOM = 64 << 10;

/** Error codes of the transport's own timeouts (client.ts names them for the user). */
export const TimeoutCode = { connect: 'ECONNECTTIMEOUT', headers: 'EHEADERSTIMEOUT', body: 'EBODYTIMEOUT' } as const;

export interface Http1Options {
  connectMs: number;
  headersMs: number;
  /** The longest silence while the body streams (not counted while the reader holds it back). */
  bodyMs: number;
  /** DNS resolution for the connection (the client's, which refuses private addresses). */
  lookup?: net.LookupFunction;
  signal?: AbortSignal;
  /** Certificates to trust instead of Node's (tests). */
  ca?: string | Buffer;
  /** Where a plain connection's blocks come from (a pool whose reader gives them back); default new ones. */
  blocks?: () => Buffer;
}

export interface Http1Response {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: Http1Body;
}

/** The response body: a byte stream of views; dump() drops the rest of it with the connection. */
export class Http1Body extends Readable {
  constructor(
    private readonly socket: net.Socket,
    private readonly wanted: () => void,
  ) {
    super();
    // A failure before the reader listens (it may await other work first) stays on the stream, for
    // its reads, finished() or async iteration to report, rather than being thrown at nobody.
    this.on('error', () => undefined);
  }

  override _read(): void {
    this.wanted();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }

  dump(): Promise<void> {
    this.destroy();
    return Promise.resolve();
  }
}

/** Sends method url with headers and resolves with the response once its head arrived. */
export function http1Request(url: URL, method: 'GET' | 'HEAD', headers: Record<string, string>, options: Http1Options): Promise<Http1Response> {
  const request = requestText(url, method, headers); // throws before anything connects
  return new Promise((resolve, reject) => {
    const newBlock = options.blocks ?? (() => Buffer.allocUnsafeSlow(BLOCK_BYTES));
    let block = newBlock();
    let fill = 0;
    let pending: Buffer | undefined;
    let body: Http1Body | undefined;
    let framer: BodyFramer | undefined;
    const secure = url.protocol === 'https:';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port) || (secure ? 443 : 80);
    let over = false;
    const fail = (error: Error) => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (body) body.destroy(error);
      else {
        socket.destroy();
        reject(error);
      }
    };
    const onBytes = (bytes: Buffer) => {
      heard = performance.now();
      try {
        if (!framer) bytes = readHead(bytes);
        if (!framer || !body) return;
        for (const part of framer.take(bytes)) if (!body.push(part)) pause();
        if (framer.done) finish();
      } catch (error) {
        fail(error as Error);
      }
    };
    // Until the head is complete its bytes gather in pending; what follows it is the body's.
    const readHead = (bytes: Buffer): Buffer => {
      pending = pending ? Buffer.concat([pending, bytes]) : bytes;
      for (;;) {
        const head = parseHead(pending);
        if (!head) return Buffer.alloc(0);
        const rest = pending.subarray(head.length);
        if (head.statusCode >= 100 && head.statusCode < 200) {
          pending = rest; // an interim answer (100 Continue): the real one follows
          continue;
        }
        pending = undefined;
        clearTimeout(timer);
        framer = BodyFramer.of(head, method);
        body = new Http1Body(socket, resume);
        watchBody(options.bodyMs);
        resolve({ statusCode: head.statusCode, headers: head.headers, body });
        if (framer.done) finish();
        return rest;
      }
    };
    const finish = () => {
      if (over) return;
      over = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      body?.push(null);
      socket.destroy();
    };
    // The reader holds the body back: the socket waits, and its silence is not the upstream's.
    let held = false;
    const pause = () => {
      if (held) return;
      held = true;
      socket.pause();
    };
    const resume = () => {
      if (!held || framer?.done) return;
      held = false;
      heard = performance.now();
      socket.resume();
    };
    // One timer watches the body's silence (a socket timeout would be re-armed at every pause).
    let heard = 0;
    const watchBody = (delay: number) => {
      timer = setTimeout(() => {
        const quiet = held ? 0 : performance.now() - heard;
        if (quiet >= options.bodyMs) fail(timeout(TimeoutCode.body, `${url.host} sent nothing for ${options.bodyMs} ms`));
        else watchBody(options.bodyMs - quiet);
      }, delay);
    };
    const room = () => {
      if (block.length - fill < MIN_READ_ROOM) {
        block = newBlock();
        fill = 0;
      }
      return block.subarray(fill);
    };
    const socket: net.Socket = secure
      ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, lookup: options.lookup, ca: options.ca, ALPNProtocols: ['http/1.1'] })
      : net.connect({
          host,
          port,
          lookup: options.lookup,
          onread: {
            buffer: room,
            callback: (read: number, into: Uint8Array) => {
              fill += read;
              onBytes(Buffer.from(into.buffer, into.byteOffset, read));
              return true;
            },
          },
        });
    if (secure) socket.on('data', onBytes);
    let timer = setTimeout(() => fail(timeout(TimeoutCode.connect, `connecting to ${url.host} took over ${options.connectMs} ms`)), options.connectMs);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(timeout(TimeoutCode.headers, `${url.host} sent no response head within ${options.headersMs} ms`)), options.headersMs);
    });
    socket.setNoDelay(true);
    socket.write(request);
    socket.on('error', fail);
    // With onread the socket's own stream never flows, so its end shows as the close.
    const onEnd = () => {
      if (!framer) return fail(new ProtocolError(`${url.host} closed the connection before a response head`));
      if (framer.done) return;
      const short = framer.ended();
      if (short) fail(new ProtocolError(short));
      else finish();
    };
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    const onAbort = () => fail(Object.assign(new Error('the request was aborted'), { name: 'AbortError', code: 'ABORT_ERR' }));
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The request head; refuses header names and values that would break its framing. */
export function requestText(url: URL, method: string, headers: Record<string, string>): string {
  const lines = [`${method} ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`];
  for (const [name, value] of Object.entries(headers)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(value)) {
      throw new ProtocolError(`the request header ${JSON.stringify(name)} cannot be sent as it is`);
    }
    lines.push(`${name}: ${value}`);
  }
  lines.push('connection: close', '', '');
  return lines.join('\r\n');
}

function timeout(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}
