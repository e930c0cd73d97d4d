// A seeded fuzzer for the registry's HTTP surface: builds malformed requests (the same list for the
// same seed), sends each on its own raw socket, and parses what comes back, so a test can hold every
// answer to the rules: a 4xx in the OCI envelope, or a closed connection for broken HTTP, never a 5xx.
import http from 'node:http';
import net from 'node:net';
import { createHash } from 'node:crypto';

/** mulberry32: a small, fast, seedable PRNG; the same seed gives the same sequence everywhere. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Dice {
  constructor(readonly next: () => number) {}
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(length: number): Buffer {
    return Buffer.from(Array.from({ length }, () => this.int(256)));
  }
}

export interface FuzzCase {
  id: number;
  kind: string;
  /** What goes on the wire, in order; `pauseMs` apart when there are several parts. */
  parts: Buffer[];
  pauseMs: number;
  /** Half-close the socket after the last part (a truncated body the server sees end). */
  endAfter: boolean;
  /**
   * A complete, parseable HTTP request: it must get an answer. Broken ones (bad framing, truncated,
   * slow-loris) may also just see the connection closed.
   */
  complete: boolean;
  method: string;
  /** The repository name the path carries, for judging (broken/error answers 5xx on purpose). */
  name: string;
}

export interface ParsedResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface Outcome {
  fuzz: FuzzCase;
  responses: ParsedResponse[];
  /** The socket closed (or reset) without a full response. */
  closedWithoutAnswer: boolean;
  /** The server neither answered nor closed within the socket timeout. */
  hung: boolean;
}

const HEX = '0123456789abcdef';

function hex(dice: Dice, length: number): string {
  return Array.from({ length }, () => dice.pick([...HEX])).join('');
}

export function validDigest(dice: Dice): string {
  return `sha256:${hex(dice, 64)}`;
}

/** Repository names: valid ones, traversal attempts, encodings, NULs, very long ones. */
function fuzzName(dice: Dice): string {
  return dice.pick([
    () => 'broken/prepared',
    () => `broken/prepared/${dice.pick(['a', 'x/y', 'deep/er/path'])}`,
    () => 'broken/prepared/../../../sentinel',
    () => 'broken/prepared/..',
    () => '../sentinel',
    () => 'broken/prepared/%2e%2e/%2e%2e/sentinel',
    () => 'broken%2fprepared',
    () => 'broken/prepared%2f..%2f..%2fsentinel',
    () => 'broken/prepared/%00',
    () => 'broken/prepared/a%00b',
    () => `broken/prepared/${'n'.repeat(dice.pick([256, 1000, 10_000]))}`,
    () => 'broken/prepared/UPPER',
    () => 'broken/prepared//double',
    () => 'broken/prepared/-dash',
    () => 'broken/prepared/_underscore',
    () => 'broken/random',
    () => 'broken/nosuch',
    () => 'broken',
    () => 'app',
    () => 'team/app',
    () => '127.0.0.1:1/app',
    () => '%2e%2e',
    () => '.',
    () => 'broken/prepared/é',
    () => `broken/prepared/${hex(dice, 8)}`,
  ])();
}

function fuzzReference(dice: Dice): string {
  return dice.pick([
    () => 'latest',
    () => 'v1',
    () => `t${dice.int(1000)}`,
    () => 't'.repeat(dice.pick([128, 129, 10_000])),
    () => '..',
    () => '%2e%2e',
    () => '..%2f..%2fsentinel',
    () => '-bad',
    () => '.bad',
    () => 'a%00b',
    () => validDigest(dice),
    () => `sha256:${hex(dice, 63)}`,
    () => `sha256:${hex(dice, 64).toUpperCase()}`,
    () => `sha512:${hex(dice, 12)}`,
    () => `md5:${hex(dice, 32)}`,
    () => 'sha256:',
    () => `sha256:${hex(dice, 64)}%00`,
    () => 'sha256:../../../sentinel',
    () => 'layers-1_size-1k',
    () => 'layers-0_size-1k',
    () => 'layers-2_size-99g',
    () => 'layers-x',
    () => '%',
    () => '%zz',
  ])();
}

function fuzzPath(dice: Dice, name: string): string {
  const reference = fuzzReference(dice);
  const tail = dice.pick([
    () => `/manifests/${reference}`,
    () => `/blobs/${reference}`,
    () => `/blobs/uploads/`,
    () => `/blobs/uploads/?digest=${reference}`,
    () => `/blobs/uploads/?mount=${reference}&from=${fuzzName(dice)}`,
    () => `/blobs/uploads/${dice.pick(['..%2f..%2fsentinel', '00000000-0000-4000-8000-000000000000', 'not-a-uuid', '../../sentinel', hex(dice, 36)])}`,
    () => `/blobs/uploads/00000000-0000-4000-8000-000000000000?digest=${reference}`,
    () => `/tags/list?n=${dice.pick(['-1', 'abc', '99999999999999999999', '0', '1e3', ''])}&last=${reference}`,
    () => `/referrers/${reference}?artifactType=${dice.pick(['%', 'a/b', ''])}`,
  ])();
  return dice.pick([
    () => `/v2/${name}${tail}`,
    () => `/v2/${name}${tail}`,
    () => `/v2/${name}${tail}`,
    () => `/v2/_catalog?n=${dice.pick(['-5', 'x', '100000', '%'])}&last=${dice.pick(['', '..', '%00'])}`,
    () => dice.pick(['/', '/v2', '/v2/', '/v3/', '/v2/../../etc/passwd', '/%2e%2e/%2e%2e', '*', '/v2/%', '/v2/?%']),
  ])();
}

function fuzzBody(dice: Dice): Buffer {
  return dice.pick([
    () => Buffer.alloc(0),
    () => dice.bytes(dice.int(4096)),
    () => Buffer.from('{'),
    () => Buffer.from('[]'),
    () => Buffer.from('null'),
    () => Buffer.from('{"schemaVersion":"two"}'),
    () => Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":5,"layers":{}}'),
    () => Buffer.from(`{"schemaVersion":2,"subject":{"digest":"sha256:../../x","size":-1},"layers":[]}`),
    () => Buffer.from(`{"schemaVersion":2,"manifests":[{"digest":"${'x'.repeat(500)}"}]}`),
    () => Buffer.from(`${'['.repeat(50_000)}${']'.repeat(50_000)}`),
    () => Buffer.from(`{"a":"${'\\u0000'.repeat(100)}"}`),
    () => Buffer.from('\u00ff\u00fe{"schemaVersion":2}', 'latin1'),
    // A declared media type that cannot be a header value (refused: it would be every pull's Content-Type).
    () => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: dice.pick(['a/\u2603', 'a/b\u0000', 'a/\u0001', 'a/b\u007f', 'a/b\r\nX: y']), layers: [] })),
    // Deep JSON in each manifest field: stored as sent, never a 5xx.
    () => {
      const field = dice.pick(['subject', 'annotations', 'config', 'layers', 'manifests']);
      const depth = dice.pick([100, 2_000, 10_000]);
      return Buffer.from(`{"schemaVersion":2,"${field}":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`);
    },
  ])();
}

/** Mostly the registry's methods, so most requests reach a handler; a few it never serves. */
const METHODS = ['GET', 'GET', 'GET', 'HEAD', 'HEAD', 'PUT', 'PUT', 'PUT', 'POST', 'POST', 'POST', 'PATCH', 'PATCH', 'DELETE', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'get'];
const CONTENT_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/octet-stream',
  'text/plain; charset=utf-8',
  '../../sentinel',
  'a'.repeat(2000),
];

function methodsFor(path: string): string[] {
  const route = path.split('?')[0] ?? '';
  if (/\/blobs\/uploads\/?$/.test(route)) return ['POST'];
  if (/\/blobs\/uploads\/[^/]+$/.test(route)) return ['GET', 'PATCH', 'PUT', 'DELETE'];
  if (/\/manifests\/[^/]+$/.test(route)) return ['GET', 'HEAD', 'PUT', 'DELETE'];
  if (/\/blobs\/[^/]+$/.test(route)) return ['GET', 'HEAD', 'DELETE'];
  return ['GET', 'HEAD'];
}

function header(name: string, value: string): string {
  return `${name}: ${value}\r\n`;
}

/** One malformed request. Most are complete HTTP with bad content; some break the framing itself. */
export function fuzzCase(dice: Dice, id: number, host: string): FuzzCase {
  const name = fuzzName(dice);
  const path = fuzzPath(dice, name);
  // Mostly a method the route serves, so the request reaches a handler with its bad content.
  const method = dice.chance(0.75) ? dice.pick(methodsFor(path)) : dice.pick(METHODS);
  let body = ['PUT', 'POST', 'PATCH'].includes(method) || dice.chance(0.1) ? fuzzBody(dice) : Buffer.alloc(0);
  let headers = header('Host', host) + header('Connection', 'close');
  if (dice.chance(0.5)) headers += header('Content-Type', dice.pick(CONTENT_TYPES));
  if (dice.chance(0.3)) headers += header('Content-Range', dice.pick(['0-0', '5-1', 'bytes=abc', '0-99999999999999999999', '-1-2', `0-${body.length}`, '100-199', 'bytes 0-9/10']));
  if (dice.chance(0.2)) headers += header('Range', dice.pick(['bytes=99999999-', 'bytes=-0', 'bytes=5-1', 'bytes=0-0,1-1', 'pages=1', 'bytes=--']));
  if (dice.chance(0.2)) headers += header('Accept', dice.pick(['*/*', '', 'x'.repeat(3000), 'application/vnd.oci.image.index.v1+json;q=abc']));
  if (dice.chance(0.05)) headers += header('Expect', '100-continue');
  // Node's parser refuses a lower-case method and bytes outside ASCII in the target: broken HTTP.
  const parseable = method === method.toUpperCase() && /^[\x21-\x7e]*$/.test(path);
  const base: Omit<FuzzCase, 'parts'> = { id, kind: 'request', pauseMs: 0, endAfter: false, complete: parseable, method, name };
  const head = (extra: string, length: number | undefined) =>
    Buffer.from(`${method} ${path} HTTP/1.1\r\n${headers}${extra}${length === undefined ? '' : header('Content-Length', String(length))}\r\n`, 'latin1');

  const roll = dice.next();
  if (roll < 0.62) return { ...base, parts: [head('', body.length), body] };
  if (roll < 0.68) {
    // A body longer than its Content-Length: the rest is a second "request" of garbage.
    if (body.length === 0) body = dice.bytes(64);
    // After `Connection: close`, Node's parser treats more bytes as an error and may answer a bare 400
    // before the app answers the first request: a broken connection either way.
    return { ...base, kind: 'body-longer-than-declared', complete: false, parts: [head('', Math.floor(body.length / 2)), body] };
  }
  if (roll < 0.74) {
    // Truncated body: the server sees the connection end before the body does.
    if (body.length < 2) body = dice.bytes(256);
    return { ...base, kind: 'truncated-body', complete: false, endAfter: true, parts: [head('', body.length * 2), body] };
  }
  if (roll < 0.78) {
    // Truncated and then silent: only the body idle timeout ends it.
    return { ...base, kind: 'stalled-body', complete: false, parts: [head('', body.length + 1000), body] };
  }
  if (roll < 0.84) {
    const chunked = dice.pick([
      body.length === 0 ? '0\r\n\r\n' : `${body.length.toString(16)}\r\n${body.toString('latin1')}\r\n0\r\n\r\n`,
      `zz\r\n${body.toString('latin1')}\r\n0\r\n\r\n`,
      `ffffffffffffffffff\r\nabc\r\n0\r\n\r\n`,
      `5\r\nabc\r\n0\r\n\r\n`,
      `3\r\nabc\r\n`,
    ]);
    const complete = parseable && chunked.endsWith('0\r\n\r\n') && !chunked.startsWith('zz') && !chunked.startsWith('fff') && !chunked.startsWith('5\r');
    return { ...base, kind: 'chunked', complete, endAfter: !complete, parts: [head(header('Transfer-Encoding', 'chunked'), undefined), Buffer.from(chunked, 'latin1')] };
  }
  if (roll < 0.88) {
    // Over Node's 16 KiB head limit: 431.
    return { ...base, kind: 'huge-header', complete: false, parts: [head(header('X-Huge', 'h'.repeat(17_000 + dice.int(20_000))), 0)] };
  }
  if (roll < 0.92) {
    const broken = dice.pick([
      `${method} ${path}\r\n\r\n`,
      `${method} ${path} HTTP/9.9\r\nHost: x\r\n\r\n`,
      `${method}  ${path} HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /v2/\u0000 HTTP/1.1\r\nHost: x\r\n\r\n`,
      `GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab`,
      `GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n`,
      `GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n`,
      `GET /v2/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n`,
      `GET /v2/ HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n`,
      `GET /v2/ HTTP/1.1\r\n\r\n`,
      `CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\r\n`,
      dice.bytes(200).toString('latin1'),
    ]);
    return { ...base, kind: 'broken-http', complete: false, parts: [Buffer.from(broken, 'latin1')] };
  }
  if (roll < 0.94) {
    // Slow-loris: the head a byte at a time, then silence; the head timeout must end it.
    const full = head('', 0);
    const cut = full.subarray(0, 5 + dice.int(full.length - 10));
    return { ...base, kind: 'slow-loris', complete: false, pauseMs: 5, parts: [...cut].map((byte) => Buffer.from([byte])) };
  }
  // A manifest over the 4 MiB limit, or a declared length the server refuses before reading.
  if (dice.chance(0.5)) {
    return { ...base, kind: 'huge-manifest', method: 'PUT', parts: [Buffer.from(`PUT /v2/broken/prepared/manifests/big HTTP/1.1\r\n${headers}${header('Content-Length', String(5 * 1024 * 1024))}\r\n`), Buffer.alloc(5 * 1024 * 1024, 0x20)] };
  }
  return { ...base, kind: 'pipelined', complete: false, parts: [head('', body.length), body, Buffer.from(`GET /v2/ HTTP/1.1\r\nHost: ${host}\r\n\r\n`)] };
}

/** Sends one case on its own connection and collects everything until the server closes it. */
export function send(port: number, fuzz: FuzzCase, timeoutMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let hung = false;
    socket.setTimeout(timeoutMs, () => {
      hung = true;
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const responses = parseResponses(Buffer.concat(chunks), fuzz.method === 'HEAD');
      resolve({ fuzz, responses, closedWithoutAnswer: responses.length === 0 && !hung, hung });
    });
    socket.once('connect', async () => {
      for (const [index, part] of fuzz.parts.entries()) {
        if (socket.destroyed) return;
        socket.write(part);
        if (fuzz.pauseMs > 0 && index < fuzz.parts.length - 1) await new Promise((done) => setTimeout(done, fuzz.pauseMs));
      }
      if (fuzz.endAfter && !socket.destroyed) socket.end();
    });
  });
}

/** Every complete HTTP/1.1 response in a byte stream (a HEAD's first final response has no body). */
export function parseResponses(data: Buffer, firstIsHead: boolean): ParsedResponse[] {
  const responses: ParsedResponse[] = [];
  let offset = 0;
  while (offset < data.length) {
    const end = data.indexOf('\r\n\r\n', offset);
    if (end < 0) break;
    const lines = data.subarray(offset, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? NaN);
    if (!Number.isFinite(status)) break;
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const bodyStart = end + 4;
    const firstFinal = status >= 200 && !responses.some((earlier) => earlier.status >= 200);
    const noBody = (firstIsHead && firstFinal) || status === 204 || status === 304 || (status >= 100 && status < 200);
    const length = noBody ? 0 : Number(headers['content-length'] ?? data.length - bodyStart);
    if (bodyStart + length > data.length) break;
    responses.push({ status, headers, body: data.subarray(bodyStart, bodyStart + length) });
    offset = bodyStart + length;
  }
  return responses;
}

/** A digest of a listing, for before/after comparisons that print short. */
export function fingerprint(items: readonly string[]): string {
  return createHash('sha256').update(items.join('\n')).digest('hex').slice(0, 16);
}

export interface HttpOutcome {
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: Buffer;
  /** The client gave up on purpose half-way (aborted), or the request could not be sent. */
  aborted: boolean;
  error?: string;
}

/**
 * The same kind of request through node:http: the body streamed in random chunks with chunked
 * encoding, and sometimes aborted half-way. Targets Node refuses to send are reported as aborted.
 */
export function sendHttp(port: number, dice: Dice, fuzz: FuzzCase, timeoutMs: number): Promise<HttpOutcome> {
  const [requestLine = ''] = Buffer.concat(fuzz.parts).toString('latin1').split('\r\n');
  const [, target = '/'] = requestLine.split(' ');
  const body = dice.pick([Buffer.alloc(0), dice.bytes(dice.int(70_000)), Buffer.from('{"schemaVersion":2,"layers":[{"digest":5}]}')]);
  const abort = dice.chance(0.25);
  const method = dice.pick(['GET', 'PUT', 'POST', 'PATCH', 'DELETE']);
  return new Promise((resolve) => {
    let request: http.ClientRequest;
    try {
      request = http.request({ host: '127.0.0.1', port, method, path: target, agent: false, timeout: timeoutMs, headers: { 'Content-Type': 'application/octet-stream' } });
    } catch (error) {
      resolve({ aborted: true, error: (error as NodeJS.ErrnoException).code });
      return;
    }
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', (error) => resolve({ aborted: abort, error: (error as NodeJS.ErrnoException).code ?? error.message }));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', () => undefined);
      response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks), aborted: false }));
    });
    const pieces: Buffer[] = [];
    for (let at = 0; at < body.length; ) {
      const size = 1 + dice.int(16_384);
      pieces.push(body.subarray(at, at + size));
      at += size;
    }
    const cutAt = abort ? dice.int(pieces.length + 1) : -1;
    const write = (index: number): void => {
      if (index === cutAt) {
        request.destroy();
        resolve({ aborted: true });
        return;
      }
      if (index >= pieces.length) {
        request.end();
        return;
      }
      request.write(pieces[index], () => setImmediate(write, index + 1));
    };
    write(0);
  });
}
