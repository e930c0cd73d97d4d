// One log line per request: method, path, status, bytes, milliseconds and the scenario that answered.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** The status logged for a response that did not complete: the client (or a cut) ended it first (nginx's 499). */
export const INCOMPLETE_STATUS = 499;

export interface RequestLogEntry {
  time: string;
  method: string;
  path: string;
  /** The status the client received in full; 499 when the response did not complete. */
  status: number;
  /** For an incomplete response, the status line that was sent before it ended (0: none). */
  sent?: number;
  bytes: number;
  ms: number;
  scenario: string;
  error?: string;
  /** What the request asked for, where that is more than its path (a token realm's grant and scope). */
  detail?: string;
  /** An unexpected exception behind a 500, for the operator. */
  internal?: unknown;
}

export type RequestLog = (entry: RequestLogEntry) => void;

/** What the dispatcher learns about a request while answering it, for its log line. */
export interface RequestNotes {
  scenario?: string;
  errorCode?: string;
  detail?: string;
  internalError?: unknown;
}

/** Logs the request once its response is closed (sent, or cut off); returns the notes to fill in. */
export function watchRequest(log: RequestLog, req: IncomingMessage, res: ServerResponse): RequestNotes {
  const started = performance.now();
  const socket = req.socket;
  const bytesBefore = socket.bytesWritten;
  const notes: RequestNotes = {};
  res.once('close', () => {
    const complete = res.writableFinished;
    const entry: RequestLogEntry = {
      time: new Date().toISOString(),
      method: req.method ?? '',
      path: req.url ?? '',
      status: complete ? res.statusCode : INCOMPLETE_STATUS,
      bytes: socket.bytesWritten - bytesBefore,
      ms: performance.now() - started,
      scenario: notes.scenario ?? 'registry',
    };
    if (!complete) entry.sent = res.headersSent ? res.statusCode : 0;
    if (notes.errorCode) entry.error = notes.errorCode;
    if (notes.detail) entry.detail = notes.detail;
    if (notes.internalError) entry.internal = notes.internalError;
    log(entry);
  });
  return notes;
}

export function formatText(entry: RequestLogEntry): string {
  const error = entry.error ? ` ${entry.error}` : '';
  const cut = entry.sent === undefined ? '' : entry.sent ? ` (incomplete: ${entry.sent} sent)` : ' (incomplete: nothing sent)';
  const detail = entry.detail ? ` (${entry.detail})` : '';
  const line = `${entry.time} ${entry.method} ${entry.path} ${entry.status} ${entry.bytes}B ${entry.ms.toFixed(1)}ms ${entry.scenario}${error}${detail}${cut}`;
  return entry.internal ? `${line}\n${String((entry.internal as Error).stack ?? entry.internal)}` : line;
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
