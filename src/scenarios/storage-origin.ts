// The storage origin of broken/redirect: a second listener on loopback (another origin than the
// registry: another port), opened on first use, that serves blobs at presigned-looking URLs the
// registry redirects to, with the quirks object storage has (S3's errors, URLs that expire or work
// once, HEAD refused, chains of redirects). It honours Range. It speaks HTTP, or HTTPS with the
// registry's certificate (one listener per scheme, each opened when first needed). Its answers go
// out through the respond wrappers of the registry request that issued the URL, so a decorator
// outside the redirect (broken/fault) shapes the bytes the origin sends.
import crypto from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Destination } from '../http/context.js';
import { parseByteRange } from '../http/request.js';
import type { Body, ResponsePlan } from '../http/response.js';
import type { RedirectQuirks } from './redirect-rules.js';

export interface Ticket {
  /** The blob's whole-content answer, captured from the inner handler. */
  plan: ResponsePlan;
  quirks: RedirectQuirks;
  expiresAtMs?: number;
  served: number;
  /** Sends the blob's answer: the respond of the registry request that issued the URL, sent to `to`. */
  send(plan: ResponsePlan, to: Destination): Promise<void>;
}

export type Scheme = 'http' | 'https';

/**
 * The most URLs kept; the oldest goes first (its URL then answers NoSuchKey, as an expired object
 * would). A ticket holds its registry request's respond chain (and so that request's context),
 * about 11 KB each, so 2,000 cost some 22 MB; a client follows a redirect at once, and 2,000 blob
 * GETs between a redirect and its use is far beyond any pull.
 */
const TICKET_LIMIT = 2_000;

export class StorageOrigin {
  private readonly tickets = new Map<string, Ticket>();
  private readonly secret = crypto.randomBytes(32);
  private readonly listening = new Map<Scheme, Promise<{ server: http.Server; port: number }>>();

  /** tls: the registry's certificate, for the https listener. */
  constructor(
    private readonly now: () => number,
    private readonly tls?: { cert: Buffer; key: Buffer },
  ) {}

  /** Whether it can speak HTTPS (it has the registry's certificate). */
  get secure(): boolean {
    return this.tls !== undefined;
  }

  /** A URL for the blob on this origin, at hostname (the registry's, so only the port differs). */
  async sign(scheme: Scheme, hostname: string, ticket: Ticket): Promise<string> {
    const { port } = await this.start(scheme);
    const id = crypto.randomUUID();
    if (this.tickets.size >= TICKET_LIMIT) {
      const oldest = this.tickets.keys().next().value;
      if (oldest !== undefined) this.tickets.delete(oldest);
    }
    this.tickets.set(id, ticket);
    const host = hostname.includes(':') ? `[${hostname}]` : hostname;
    return `${scheme}://${host}:${port}${this.path(id, ticket.quirks.hops)}`;
  }

  private path(id: string, hop: number): string {
    const signature = crypto.createHmac('sha256', this.secret).update(`${id}/${hop}`).digest('hex');
    return `/storage/${id}/hop-${hop}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=broken-reg&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=${signature}`;
  }

  private start(scheme: Scheme): Promise<{ server: http.Server; port: number }> {
    let listening = this.listening.get(scheme);
    if (!listening) {
      listening = new Promise((resolve, reject) => {
        const answer = (req: http.IncomingMessage, res: http.ServerResponse) => void this.answer(req, res).catch(() => res.destroy());
        const options = { keepAliveTimeout: 5_000 };
        if (scheme === 'https' && !this.tls) throw new Error('the storage origin has no certificate for https');
        const server = scheme === 'https' ? https.createServer({ ...options, ...this.tls }, answer) : http.createServer(options, answer);
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port }));
      });
      this.listening.set(scheme, listening);
    }
    return listening;
  }

  async close(): Promise<void> {
    for (const listening of this.listening.values()) {
      const { server } = await listening;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://origin');
    const match = /^\/storage\/([0-9a-f-]{36})\/hop-(\d{1,2})$/.exec(url.pathname);
    const ticket = match ? this.tickets.get(match[1] as string) : undefined;
    if (!match || !ticket) return s3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
    const [, id, hopText] = match as unknown as [string, string, string];
    const hop = Number(hopText);
    const expected = crypto.createHmac('sha256', this.secret).update(`${id}/${hop}`).digest('hex');
    if (url.searchParams.get('X-Amz-Signature') !== expected) return s3Error(res, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided.');
    const { quirks } = ticket;
    if (quirks.authReject && req.headers.authorization !== undefined) {
      return s3Error(res, 400, 'InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified');
    }
    if (quirks.authRequire && req.headers.authorization === undefined) return s3Error(res, 403, 'AccessDenied', 'Access Denied: this storage wants an Authorization header');
    if (quirks.head403 && req.method === 'HEAD') return s3Error(res, 403, 'AccessDenied', 'Access Denied: the URL is signed for GET');
    if (ticket.expiresAtMs !== undefined && this.now() >= ticket.expiresAtMs) return s3Error(res, 403, 'AccessDenied', 'Request has expired');
    if (quirks.once && ticket.served > 0) return s3Error(res, 403, 'AccessDenied', 'Request has expired: the URL was already used');
    if (quirks.loop || hop > 0) {
      res.writeHead(302, { Location: this.path(id, quirks.loop ? hop : hop - 1), 'Content-Length': 0 }).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return s3Error(res, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    ticket.served++;
    const controller = new AbortController();
    res.once('close', () => controller.abort());
    await ticket.send(rangePlan(ticket.plan, req.headers.range), { req, res, signal: controller.signal, unranged: ticket.plan });
  }
}

/** The plan for a Range of a whole-blob plan (a stream body without a known size is sent whole). */
function rangePlan(plan: ResponsePlan, header: string | undefined): ResponsePlan {
  const size = Number(plan.headers['Content-Length']);
  const headers = { ...plan.headers, 'Accept-Ranges': 'bytes' };
  if (!header || !Number.isFinite(size) || !plan.body || plan.body.kind === 'stream') return { ...plan, headers };
  let range;
  try {
    range = parseByteRange(header, size);
  } catch {
    return { status: 416, headers: { 'Content-Range': `bytes */${size}`, 'Content-Length': 0 } };
  }
  if (!range) return { ...plan, headers };
  const body: Body = plan.body.kind === 'file'
    ? { kind: 'file', path: plan.body.path, start: plan.body.start + range.start, end: plan.body.start + range.end }
    : { kind: 'bytes', bytes: plan.body.bytes.subarray(range.start, range.end + 1) };
  return { status: 206, headers: { ...headers, 'Content-Length': range.end - range.start + 1, 'Content-Range': `bytes ${range.start}-${range.end}/${size}` }, body };
}

function s3Error(res: http.ServerResponse, status: number, code: string, message: string): void {
  const xml = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>broken-reg</RequestId></Error>\n`);
  res.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': res.req.method === 'HEAD' ? 0 : xml.length });
  res.end(res.req.method === 'HEAD' ? undefined : xml);
}
