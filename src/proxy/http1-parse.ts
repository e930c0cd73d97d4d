// The HTTP/1.1 response grammar the bulk transport (http1.ts) needs: the head (status line and
// headers) and the body's framing (Content-Length, chunked, or until the connection closes). Pure:
// bytes in, facts or body slices out; the body slices are views of the bytes given, never copies.
import type { IncomingHttpHeaders } from 'node:http';

/** The most a response head may take; a larger one is refused. */
export const MAX_HEAD_BYTES = 64 << 10;

export interface ResponseHead {
  statusCode: number;
  /** Lower-case names; a header sent more than once is an array, as undici gives it. */
  headers: IncomingHttpHeaders;
  /** Bytes the head took, its empty line included. */
  length: number;
}

export class ProtocolError extends Error {
  readonly code = 'EUPSTREAMPROTOCOL';
}

/** The head at the start of bytes, or undefined while it is not complete. */
export function parseHead(bytes: Buffer): ResponseHead | undefined {
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0) {
    if (bytes.length > MAX_HEAD_BYTES) throw new ProtocolError(`the response head is larger than ${MAX_HEAD_BYTES} bytes`);
    return undefined;
  }
  const lines = bytes.toString('latin1', 0, end).split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!status) throw new ProtocolError(`the response does not start with an HTTP/1.x status line: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`);
  const headers: Record<string, string | string[]> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ProtocolError(`a response header line is not "name: value": ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const before = headers[name];
    headers[name] = before === undefined ? value : Array.isArray(before) ? [...before, value] : [before, value];
  }
  return { statusCode: Number(status[1]), headers: headers as IncomingHttpHeaders, length: end + 4 };
}

/** Whether a response to method with this status carries a body at all (RFC 9112, section 6.3). */
export function hasBody(method: string, statusCode: number): boolean {
  return method !== 'HEAD' && statusCode >= 200 && statusCode !== 204 && statusCode !== 304;
}

/**
 * Takes the bytes after the head as they arrive and gives back the body's bytes. `length`: exactly
 * that many; `chunked`: the chunks' data without their framing (extensions and trailers dropped);
 * `close`: everything until the connection ends.
 */
export class BodyFramer {
  /** The body is complete: bytes after it are not part of it. */
  done = false;
  /** Body bytes given so far. */
  received = 0;
  private remaining: number;
  private state: 'size' | 'data' | 'data-end' | 'trailer' = 'size';
  /** A chunk-size or trailer line that spans reads. */
  private line = '';

  constructor(
    private readonly mode: 'length' | 'chunked' | 'close',
    length = 0,
  ) {
    this.remaining = length;
    this.done = mode === 'length' && length === 0;
  }

  /** The framing the head announces. */
  static of(head: ResponseHead, method: string): BodyFramer {
    if (!hasBody(method, head.statusCode)) return new BodyFramer('length', 0);
    const encoding = String(head.headers['transfer-encoding'] ?? '').toLowerCase();
    if (encoding !== '') {
      if (encoding.split(',').pop()?.trim() !== 'chunked') throw new ProtocolError(`the transfer encoding "${encoding}" is not supported`);
      return new BodyFramer('chunked');
    }
    const text = head.headers['content-length'];
    if (text === undefined) return new BodyFramer('close');
    const length = Array.isArray(text) ? undefined : /^\d{1,16}$/.test(text) ? Number(text) : undefined;
    if (length === undefined) throw new ProtocolError(`the Content-Length ${JSON.stringify(text)} is not a byte count`);
    return new BodyFramer('length', length);
  }

  /** The body's bytes in bytes (views of it), in order. */
  take(bytes: Buffer): Buffer[] {
    if (this.done || bytes.length === 0) return [];
    if (this.mode === 'close') return this.give([bytes]);
    if (this.mode === 'length') {
      const part = bytes.length > this.remaining ? bytes.subarray(0, this.remaining) : bytes;
      this.remaining -= part.length;
      this.done = this.remaining === 0;
      return this.give([part]);
    }
    return this.give(this.dechunk(bytes));
  }

  /** The connection ended: an error message when the body is not complete. */
  ended(): string | undefined {
    if (this.done || this.mode === 'close') return undefined;
    return this.mode === 'length' ? `the connection closed after ${this.received} bytes, ${this.remaining} short of the Content-Length` : `the connection closed inside a chunked body after ${this.received} bytes`;
  }

  private give(parts: Buffer[]): Buffer[] {
    for (const part of parts) this.received += part.length;
    return parts;
  }

  private dechunk(bytes: Buffer): Buffer[] {
    const parts: Buffer[] = [];
    let at = 0;
    while (at < bytes.length && !this.done) {
      if (this.state === 'data') {
        const take = Math.min(this.remaining, bytes.length - at);
        parts.push(bytes.subarray(at, at + take));
        at += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = 'data-end';
        continue;
      }
      const newline = bytes.indexOf(10, at);
      const piece = bytes.toString('latin1', at, newline < 0 ? bytes.length : newline + 1);
      at = newline < 0 ? bytes.length : newline + 1;
      this.line += piece;
      if (this.line.length > 4096) throw new ProtocolError('a chunk-size line of the response is longer than 4096 bytes');
      if (newline < 0) break;
      const line = this.line.replace(/\r?\n$/, '');
      this.line = '';
      this.lineDone(line);
    }
    return parts;
  }

  private lineDone(line: string): void {
    switch (this.state) {
      case 'data-end':
        if (line !== '') throw new ProtocolError('a chunk of the response is longer than its size');
        this.state = 'size';
        return;
      case 'trailer':
        if (line === '') this.done = true;
        return;
      default: {
        const size = /^([0-9a-fA-F]{1,12})[ \t]*(?:;.*)?$/.exec(line);
        if (!size?.[1]) throw new ProtocolError(`a chunk size of the response is not hexadecimal: ${JSON.stringify(line.slice(0, 40))}`);
        this.remaining = parseInt(size[1], 16);
        this.state = this.remaining === 0 ? 'trailer' : 'data';
      }
    }
  }
}
