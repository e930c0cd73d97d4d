// The upstream HTTP client: undici with keep-alive and timeouts, the token flow, redirects followed
// by hand so every hop is checked (no private addresses) and credentials never leave their origin.
// Blob bodies go over the bulk transport (http1.ts) instead, hop by hop in the same loop.
import { readCapped } from '../http/request.js';
import dns from 'node:dns/promises';
import type { IncomingHttpHeaders } from 'node:http';
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { Agent, request, type Dispatcher } from 'undici';
import { http1Request, TimeoutCode } from './http1.js';
import { RegistryError } from '../oci/errors.js';
import { isPrivateAddress, matchesPattern, requirePublicDestination, type LookupAll } from './allowlist.js';
import { TokenCache, type AuthContext } from './auth.js';
import type { CredentialTable } from './docker-config.js';
import type { ProxyOptions } from './options.js';
import type { UpstreamName } from './upstream-name.js';

const MAX_REDIRECTS = 5;
const MAX_TOKEN_RESPONSE = 1 << 20;
const USER_AGENT = 'broken-reg-proxy/0.1';

/** A response body from either transport; dump() drops what is left of it. */
export interface UpstreamBody extends Readable {
  dump(): Promise<void>;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: UpstreamBody;
  /** The URL that answered, after redirects. */
  url: URL;
}

export interface UpstreamRequest {
  method: 'GET' | 'HEAD';
  /** Path below the registry root: `/v2/<repo>/manifests/<ref>`. */
  path: string;
  accept?: string;
  /** A Range header (`bytes=<from>-`), for the part of a blob the store still needs. */
  range?: string;
  signal?: AbortSignal;
  /** A blob body: over the bulk transport (http1.ts), read into large blocks, one connection each. */
  bulk?: boolean;
  /** With bulk: where the blocks come from (see Http1Options.blocks). */
  blocks?: () => Buffer;
}

export interface ClientParts {
  options: ProxyOptions;
  credentials: () => Promise<CredentialTable>;
  lookup?: LookupAll;
  now: () => number;
  /** Replaces the built-in undici Agent (whose connections are also checked for private addresses). */
  dispatcher?: Dispatcher;
}

export const defaultLookup: LookupAll = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

export class UpstreamClient {
  private readonly dispatcher: Dispatcher;
  private readonly tokens: TokenCache;
  private readonly lookup: LookupAll;
  private readonly connectLookup: LookupFunction;

  constructor(private readonly parts: ClientParts) {
    this.lookup = parts.lookup ?? defaultLookup;
    this.connectLookup = this.guardedLookup();
    const { timeouts } = parts.options;
    this.dispatcher =
      parts.dispatcher ??
      new Agent({
        keepAliveTimeout: 30_000,
        headersTimeout: timeouts.headersMs,
        bodyTimeout: timeouts.bodyMs,
        connect: { timeout: timeouts.connectMs, lookup: this.connectLookup },
      });
    this.tokens = new TokenCache(parts.now, (url, headers) => this.requestToken(url, headers));
  }

  /** The scheme a registry is spoken to with: HTTPS unless --upstream-insecure names it. */
  schemeOf(hostPort: string): 'http' | 'https' {
    return this.parts.options.insecure.some((pattern) => matchesPattern(pattern, hostPort)) ? 'http' : 'https';
  }

  /** Sends a request to the upstream registry, answering auth challenges and following redirects. */
  async send(target: UpstreamName, init: UpstreamRequest): Promise<UpstreamResponse> {
    const credentials = (await this.parts.credentials()).get(target.host);
    const auth: AuthContext = { host: target.host, scope: `repository:${target.repository}:pull`, credentials };
    const origin = new URL(`${this.schemeOf(target.apiHost)}://${target.apiHost}`).origin;
    let url = new URL(init.path, origin);
    let authorization = this.tokens.cached(target.apiHost, auth);
    let answered = false;
    for (let hops = 0; hops <= MAX_REDIRECTS; ) {
      const sameOrigin = url.origin === origin;
      const headers: Record<string, string> = { 'user-agent': USER_AGENT };
      if (init.accept) headers.accept = init.accept;
      if (init.range) headers.range = init.range;
      // Credentials belong to the registry's origin: never to a redirect target elsewhere.
      if (authorization && sameOrigin) headers.authorization = authorization;
      const response = await this.exchange(url, init.method, headers, target.host, init);
      if (response.statusCode === 401 && sameOrigin && !answered) {
        answered = true;
        await response.body.dump().catch(() => undefined);
        const next = await this.tokens.answer(target.apiHost, first(response.headers['www-authenticate']), auth);
        if (next) {
          authorization = next;
          continue;
        }
        return this.send401(response, url);
      }
      const location = first(response.headers.location);
      if (response.statusCode >= 300 && response.statusCode < 400 && location) {
        await response.body.dump().catch(() => undefined);
        url = new URL(location, url);
        hops++;
        continue;
      }
      return { status: response.statusCode, headers: response.headers, body: response.body, url };
    }
    throw new RegistryError('BAD_GATEWAY', `upstream ${target.host} redirected more than ${MAX_REDIRECTS} times`, {
      detail: { upstream: target.host },
    });
  }

  async close(): Promise<void> {
    if (!this.parts.dispatcher) await this.dispatcher.close();
  }

  private send401(response: Exchanged, url: URL): UpstreamResponse {
    return { status: 401, headers: response.headers, body: response.body, url };
  }

  /** One HTTP exchange, with failures turned into the registry errors a client should see. */
  private async exchange(url: URL, method: 'GET' | 'HEAD', headers: Record<string, string>, host: string, init: Partial<UpstreamRequest> = {}): Promise<Exchanged> {
    await requirePublicDestination(url, this.parts.options.allowlist, this.lookup);
    const { signal, bulk, blocks } = init;
    try {
      if (bulk) return await http1Request(url, method, headers, { ...this.parts.options.timeouts, lookup: this.connectLookup, signal, blocks });
      return await request(url, { dispatcher: this.dispatcher, method, headers, signal });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw upstreamFailure(error, host, url);
    }
  }

  private async requestToken(url: URL, headers: Record<string, string>): Promise<{ status: number; json: unknown }> {
    if (url.protocol !== 'https:' && this.schemeOf(url.host) !== 'http') {
      throw new RegistryError('BAD_GATEWAY', `the token service ${url.host} is not HTTPS; allow plain HTTP with --upstream-insecure ${url.host}`);
    }
    const response = await this.exchange(url, 'GET', { ...headers, 'user-agent': USER_AGENT, accept: 'application/json' }, url.host);
    const text = await readLimited(response.body, MAX_TOKEN_RESPONSE);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.statusCode, json };
  }

  /** A DNS lookup for the Agent that refuses private addresses at connect time, against DNS rebinding. */
  private guardedLookup(): LookupFunction {
    const { allowlist } = this.parts.options;
    return ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
      this.lookup(hostname).then(
        (addresses) => {
          const bad = allowlist.mayReachPrivateHost(hostname) ? undefined : addresses.find((a) => isPrivateAddress(a.address));
          if (bad) {
            callback(Object.assign(new Error(`${hostname} resolves to the private address ${bad.address}`), { code: 'EPRIVATEADDR' }));
          } else if (options.all) {
            callback(null, addresses);
          } else {
            callback(null, addresses[0]?.address, addresses[0]?.family);
          }
        },
        (error: unknown) => callback(error),
      );
    }) as unknown as LookupFunction;
  }
}

/** What either transport answered. */
interface Exchanged {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: UpstreamBody;
}

const TIMEOUT_CODES: Record<string, string> = {
  UND_ERR_CONNECT_TIMEOUT: 'connecting',
  UND_ERR_HEADERS_TIMEOUT: 'waiting for the response',
  UND_ERR_BODY_TIMEOUT: 'waiting for the body',
  [TimeoutCode.connect]: 'connecting',
  [TimeoutCode.headers]: 'waiting for the response',
  [TimeoutCode.body]: 'waiting for the body',
  ETIMEDOUT: 'connecting',
};

/** Maps a transport error to BAD_GATEWAY, GATEWAY_TIMEOUT or DENIED, naming the upstream. */
export function upstreamFailure(error: unknown, host: string, url?: URL): RegistryError {
  if (error instanceof RegistryError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? '';
  const where = url && url.host !== host ? ` (${url.host})` : '';
  const detail = { upstream: host, cause: code || String((error as Error | undefined)?.message ?? error) };
  const timeout = TIMEOUT_CODES[code];
  if (timeout) return new RegistryError('GATEWAY_TIMEOUT', `upstream ${host}${where} timed out ${timeout}`, { detail });
  if (code === 'EPRIVATEADDR') {
    return new RegistryError('DENIED', `upstream ${host}${where}: ${(error as Error).message}; allow it explicitly with --allow-upstream`, { detail });
  }
  if (code === 'EUPSTREAMPROTOCOL') {
    return new RegistryError('BAD_GATEWAY', `upstream ${host}${where} broke HTTP/1.1: ${(error as Error).message}`, { detail });
  }
  const reason = code || (error as Error | undefined)?.message || 'unknown error';
  return new RegistryError('BAD_GATEWAY', `upstream ${host}${where} is unreachable: ${reason}`, { detail });
}

export function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function readLimited(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const bytes = await readCapped(body, limit, () => new RegistryError('BAD_GATEWAY', `an upstream response was larger than ${limit} bytes`));
  return bytes.toString('utf8');
}
