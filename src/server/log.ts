// One log line per request: method, path, status, bytes, milliseconds and the scenario that answered.
import type { NextFunction, Request, Response } from 'express';

export interface RequestLogEntry {
  time: string;
  method: string;
  path: string;
  status: number;
  bytes: number;
  ms: number;
  scenario: string;
  error?: string;
  /** An unexpected exception behind a 500, for the operator. */
  internal?: unknown;
}

export type RequestLog = (entry: RequestLogEntry) => void;

export function requestLogger(log: RequestLog) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    const socket = req.socket;
    const bytesBefore = socket.bytesWritten;
    res.once('close', () => {
      const entry: RequestLogEntry = {
        time: new Date().toISOString(),
        method: req.method,
        path: req.originalUrl,
        status: res.statusCode,
        bytes: socket.bytesWritten - bytesBefore,
        ms: Number(process.hrtime.bigint() - started) / 1e6,
        scenario: (res.locals.scenario as string | undefined) ?? 'registry',
      };
      if (res.locals.errorCode) entry.error = res.locals.errorCode as string;
      if (res.locals.internalError) entry.internal = res.locals.internalError;
      log(entry);
    });
    next();
  };
}

export function formatText(entry: RequestLogEntry): string {
  const error = entry.error ? ` ${entry.error}` : '';
  const line = `${entry.time} ${entry.method} ${entry.path} ${entry.status} ${entry.bytes}B ${entry.ms.toFixed(1)}ms ${entry.scenario}${error}`;
  return entry.internal ? `${line}\n${String((entry.internal as Error).stack ?? entry.internal)}` : line;
}

export function formatJson(entry: RequestLogEntry): string {
  const { internal, ...rest } = entry;
  return JSON.stringify(internal ? { ...rest, internal: String((internal as Error).stack ?? internal) } : rest);
}
