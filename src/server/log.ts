// One record per request, for the log line and the journal alike: method, path, status, bytes both
// ways, milliseconds, the scenario that answered, and what the client asked with (the route, its
// address, User-Agent, Range, Accept and the scheme, never the value, of Authorization).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Route } from '../http/routes.js';

/** The status logged for a response that did not complete: the client (or a cut) ended it first (nginx's 499). */
export const INCOMPLETE_STATUS = 499;

export interface RequestLogEntry {
  /** The journal's sequence number; absent when the journal is off. */
  seq?: number;
  time: string;
  method: string;
  path: string;
  /** The parsed route, for requests under /v2/ the route parser knows. */
  operation?: string;
  repository?: string;
  reference?: string;
  /** The status the client received in full; 499 when the response did not complete. */
  status: number;
  /** False when the client went away (or the connection was cut) before the response was complete. */
  complete: boolean;
  /** For an incomplete response, the status line that was sent before it ended (0: none). */
  sent?: number;
  /** Bytes written to the connection for this response, head included. */
  bytes: number;
  /** Bytes of the request body that arrived (all of it, or up to where it was cut). */
  received: number;
  ms: number;
  scenario: string;
  client: string;
  userAgent?: string;
  range?: string;
  accept?: string;
  /** The scheme of the Authorization header (Basic, Bearer...); its value is never kept. */
  auth?: string;
  /** What decorators and run-time rules applied, in order (e.g. "rule 2 fault:status-503_times-2 (match 1)"). */
  applied?: string[];
  error?: string;
  /** What the request asked for, where that is more than its path (a token realm's grant and scope). */
  detail?: string;
  /** An unexpected exception behind a 500, for the operator. */
  internal?: unknown;
}

export type RequestLog = (entry: RequestLogEntry) => void;

/** What the dispatcher learns about a request while answering it, for its log line. */
export interface RequestNotes {
  route?: Route;
  scenario?: string;
  applied?: string[];
  errorCode?: string;
  detail?: string;
  internalError?: unknown;
}

const RECEIVED = Symbol('received');
type Counted = IncomingMessage & { [RECEIVED]?: () => number };

/**
 * Counts the request body's bytes as Node's parser hands them over. Must run when the request is
 * announced, before the parser pushes the first body chunk (app.ts does it first thing); a request
 * without a body is left as it is.
 */
export function countReceived(req: IncomingMessage): void {
  if (req.headers['transfer-encoding'] === undefined && !(Number(req.headers['content-length']) > 0)) return;
  let received = 0;
  const push = req.push;
  req.push = function (chunk: unknown, encoding?: BufferEncoding) {
    if (chunk) received += (chunk as Uint8Array).length;
    return push.call(this, chunk, encoding);
  };
  (req as Counted)[RECEIVED] = () => received;
}

/** Logs the request once its response is closed (sent, or cut off); returns the notes to fill in. */
export function watchRequest(log: RequestLog, req: IncomingMessage, res: ServerResponse): RequestNotes {
  const started = performance.now();
  const socket = req.socket;
  const bytesBefore = socket.bytesWritten;
  const notes: RequestNotes = {};
  res.once('close', () => {
    const complete = res.writableFinished;
    const headers = req.headers;
    const entry: RequestLogEntry = {
      time: new Date().toISOString(),
      method: req.method ?? '',
      path: req.url ?? '',
      status: complete ? res.statusCode : INCOMPLETE_STATUS,
      complete,
      bytes: socket.bytesWritten - bytesBefore,
      received: (req as Counted)[RECEIVED]?.() ?? 0,
      ms: performance.now() - started,
      scenario: notes.scenario ?? 'registry',
      client: socket.remoteAddress ?? '',
    };
    const route = notes.route;
    if (route) {
      entry.operation = route.operation;
      if (route.name) entry.repository = route.name;
      if (route.reference) entry.reference = route.reference;
    }
    if (!complete) entry.sent = res.headersSent ? res.statusCode : 0;
    if (headers['user-agent'] !== undefined) entry.userAgent = headers['user-agent'];
    if (headers.range !== undefined) entry.range = headers.range;
    if (headers.accept !== undefined) entry.accept = headers.accept;
    if (headers.authorization !== undefined) entry.auth = authScheme(headers.authorization);
    if (notes.applied) entry.applied = notes.applied;
    if (notes.errorCode) entry.error = notes.errorCode;
    if (notes.detail) entry.detail = notes.detail;
    if (notes.internalError) entry.internal = notes.internalError;
    log(entry);
  });
  return notes;
}

/** The scheme of an Authorization value ("Bearer", "Basic"), at most 20 characters; the rest is never kept. */
export function authScheme(value: string): string {
  const scheme = /^\s*([A-Za-z0-9!#$%&'*+.^_`|~-]{1,20})/.exec(value)?.[1];
  return scheme ?? '(unreadable)';
}

export function formatText(entry: RequestLogEntry): string {
  const error = entry.error ? ` ${entry.error}` : '';
  const cut = entry.sent === undefined ? '' : entry.sent ? ` (incomplete: ${entry.sent} sent)` : ' (incomplete: nothing sent)';
  const detail = entry.detail ? ` (${entry.detail})` : '';
  const line = `${entry.time} ${entry.method} ${entry.path} ${entry.status} ${entry.bytes}B ${entry.ms.toFixed(1)}ms ${entry.scenario}${error}${detail}${cut}${facts(entry)}`;
  return entry.internal ? `${line}\n${String((entry.internal as Error).stack ?? entry.internal)}` : line;
}

/** The facts after the classic line, as key=value (quoted when they hold spaces). */
function facts(entry: RequestLogEntry): string {
  const pairs: [string, string | number | undefined][] = [
    ['seq', entry.seq],
    ['in', entry.received > 0 ? `${entry.received}B` : undefined],
    ['op', entry.operation],
    ['from', entry.client],
    ['ua', entry.userAgent],
    ['range', entry.range],
    ['accept', entry.accept],
    ['auth', entry.auth],
    ['applied', entry.applied?.join('; ')],
  ];
  let text = '';
  for (const [key, value] of pairs) {
    if (value === undefined || value === '') continue;
    const shown = String(value);
    text += ` ${key}=${/[\s"]/.test(shown) ? JSON.stringify(shown) : shown}`;
  }
  return text;
}

export function formatJson(entry: RequestLogEntry): string {
  const { internal, ...rest } = entry;
  return JSON.stringify(internal ? { ...rest, internal: String((internal as Error).stack ?? internal) } : rest);
}

export interface LineWriter {
  line(text: string): void;
  /** Writes what is gathered now. */
  flush(): void;
}

/**
 * Gathers the lines of one turn of the event loop into one write. stdout to a file or a pipe is
 * synchronous in Node, so a write per request would be a system call per request on the hot path.
 */
export function batchLines(write: (text: string) => void): LineWriter {
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    write(text);
  };
  return {
    line(text) {
      pending.push(`${text}\n`);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}
