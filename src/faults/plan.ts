// Faults on what a response says, as pure ResponsePlan -> ResponsePlan functions: the error answer
// (status, body, Retry-After, challenge), the header lies (digest, type, length) and the Range
// variants of registries that get Range wrong.
import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { envelope, RegistryError } from '../oci/errors.js';
import { parseByteRange } from '../http/request.js';
import type { Body, Headers, ResponsePlan } from '../http/response.js';
import { errorForStatus } from '../registry/status-errors.js';
import type { FaultRules } from './rules.js';

/** A header's value whatever the case of its name. */
export function header(headers: Headers, name: string): string | number | undefined {
  const lower = name.toLowerCase();
  for (const key of Object.keys(headers)) if (key.toLowerCase() === lower) return headers[key];
  return undefined;
}

function withHeader(headers: Headers, name: string, value: string | number | undefined): Headers {
  const lower = name.toLowerCase();
  const next: Headers = {};
  for (const [key, old] of Object.entries(headers)) if (key.toLowerCase() !== lower) next[key] = old;
  if (value !== undefined) next[name] = value;
  return next;
}

function bytesPlan(status: number, headers: Headers, type: string | undefined, text: string): ResponsePlan {
  const bytes = Buffer.from(text);
  let next = withHeader(withHeader(headers, 'Content-Length', bytes.length), 'Content-Type', type);
  if (bytes.length === 0) next = withHeader(next, 'Content-Type', undefined);
  return { status, headers: next, body: bytes.length > 0 ? { kind: 'bytes', bytes } : undefined };
}

/**
 * The error answer of status-<N>: broken/error's code, message and protocol headers (a challenge on
 * 401, Retry-After: 1 on 429 and 503), then the body and Retry-After the rules ask for.
 */
export function errorPlan(rules: FaultRules, status: number, host: string, repository: string, now: Date): ResponsePlan {
  const error = errorForStatus(String(status), host, repository);
  const answer = envelope(error);
  let headers: Headers = { ...answer.headers };
  if (rules.retry === 'none') headers = withHeader(headers, 'Retry-After', undefined);
  else if (rules.retry !== undefined) headers = withHeader(headers, 'Retry-After', String(rules.retry));
  if (rules.retrydate !== undefined) headers = withHeader(headers, 'Retry-After', new Date(now.getTime() + rules.retrydate * 1000).toUTCString());
  if (rules.challenge === 'none') headers = withHeader(headers, 'WWW-Authenticate', undefined);
  const reason = STATUS_CODES[status] ?? 'Error';
  switch (rules.body) {
    case 'json':
      return bytesPlan(status, headers, 'application/json', JSON.stringify({ message: error.message }));
    case 'html':
      return bytesPlan(status, headers, 'text/html', `<html>\r\n<head><title>${status} ${reason}</title></head>\r\n<body>\r\n<center><h1>${status} ${reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`);
    case 'text':
      return bytesPlan(status, headers, 'text/plain; charset=utf-8', `${error.message}\n`);
    case 'empty':
      return bytesPlan(status, headers, undefined, '');
    default:
      return { status, headers, body: { kind: 'bytes', bytes: answer.body } };
  }
}

const TYPES = { html: 'text/html; charset=utf-8', json: 'application/json', text: 'text/plain; charset=utf-8', octet: 'application/octet-stream' } as const;

/** A digest that is well formed and names nothing this registry holds. */
export function wrongDigest(digest: string): string {
  const algorithm = digest.includes(':') ? digest.slice(0, digest.indexOf(':')) : 'sha256';
  const hash = createHash(algorithm === 'sha512' ? 'sha512' : 'sha256').update(`broken-reg wrong digest for ${digest}`).digest('hex');
  return `${algorithm === 'sha512' ? 'sha512' : 'sha256'}:${hash}`;
}

/** digestheader-, type- and length-: headers that lie about the body, the body unchanged. */
export function headerLies(plan: ResponsePlan, rules: FaultRules): ResponsePlan {
  let headers = plan.headers;
  if (rules.digestheader === 'none') headers = withHeader(headers, 'Docker-Content-Digest', undefined);
  if (rules.digestheader === 'wrong') {
    const digest = header(headers, 'Docker-Content-Digest');
    if (typeof digest === 'string') headers = withHeader(headers, 'Docker-Content-Digest', wrongDigest(digest));
  }
  if (rules.type === 'none') headers = withHeader(headers, 'Content-Type', undefined);
  else if (rules.type !== undefined) headers = withHeader(headers, 'Content-Type', TYPES[rules.type]);
  // Without a length Node sends the body chunked (there is no other way to say where it ends).
  if (rules.length === 'none') headers = withHeader(headers, 'Content-Length', undefined);
  return headers === plan.headers ? plan : { ...plan, headers };
}

/** Bytes start..end (inclusive) of a body, counted from the body's own first byte. */
export function sliceBody(body: Body, start: number, end: number): Body {
  if (body.kind === 'bytes') return { kind: 'bytes', bytes: body.bytes.subarray(start, end + 1) };
  if (body.kind === 'file') return { kind: 'file', path: body.path, start: body.start + start, end: body.start + end };
  const source = body.chunks;
  return {
    kind: 'stream',
    chunks: async function* (signal) {
      let offset = 0;
      for await (const chunk of source(signal)) {
        const from = Math.max(0, start - offset);
        const to = Math.min(chunk.length, end + 1 - offset);
        offset += chunk.length;
        if (to > from) yield chunk.subarray(from, to);
        if (offset > end) return;
      }
    },
  };
}

/**
 * range-<mode>: the answer to a Range request, built from the inner answer for the whole blob (the
 * inner handler is asked without the Range header). ignore: that 200 as it is. wrongstart: 206 whose
 * Content-Range names the range asked for, with bytes from another offset. nocr: the right 206
 * without Content-Range. 416: 416 for an open-ended range (bytes=N-), the right 206 otherwise.
 */
export function rangePlan(mode: NonNullable<FaultRules['range']>, full: ResponsePlan, rangeHeader: string | undefined): ResponsePlan {
  const size = Number(header(full.headers, 'Content-Length'));
  if (full.status !== 200 || !rangeHeader || !Number.isSafeInteger(size) || mode === 'ignore') return full;
  if (mode === '416' && /^\s*bytes=\d+-\s*$/.test(rangeHeader)) {
    const error = envelope(new RegistryError('RANGE_INVALID', 'open-ended ranges are not satisfiable here', { headers: { 'Content-Range': `bytes */${size}` } }));
    return { status: 416, headers: error.headers, body: { kind: 'bytes', bytes: error.body } };
  }
  const range = parseByteRange(rangeHeader, size);
  if (!range) return full;
  let { start, end } = range;
  const claimed = `bytes ${start}-${end}/${size}`;
  if (mode === 'wrongstart') {
    const length = end - start + 1;
    start = start > 0 ? 0 : Math.min(1, size - 1);
    end = Math.min(size - 1, start + length - 1);
  }
  let headers = withHeader(full.headers, 'Content-Length', end - start + 1);
  if (mode !== 'nocr') headers = withHeader(headers, 'Content-Range', claimed);
  return { status: 206, headers, body: full.body ? sliceBody(full.body, start, end) : undefined };
}
