// The proxy's configuration: the four serve flags (registered by commands/options.ts), validated once
// into ProxyOptions.
import { UsageError } from '../cli-error.js';
import { parseDuration } from '../params/duration.js';
import { Allowlist, parseHostPattern, type HostPattern } from './allowlist.js';
import { DOCKER_HUB, parseDefaultUpstream, type DefaultUpstream } from './upstream-name.js';

export const DEFAULT_UPSTREAM = 'quay.io';
export const DEFAULT_PROXY_TTL = '5m';
/** Hosts the proxy may fetch from when no --allow-upstream is given (plus the default upstream). */
export const DEFAULT_ALLOWED_UPSTREAMS = [DOCKER_HUB, 'quay.io', 'ghcr.io', 'gcr.io', 'registry.k8s.io', 'mcr.microsoft.com', 'public.ecr.aws'];

export interface ProxyTimeouts {
  /** Establishing a connection (TCP and TLS). */
  connectMs: number;
  /** From sending a request to the response headers. */
  headersMs: number;
  /** Longest silence while a body streams. */
  bodyMs: number;
}

export const DEFAULT_TIMEOUTS: ProxyTimeouts = { connectMs: 10_000, headersMs: 30_000, bodyMs: 60_000 };

export interface ProxyOptions {
  /** Where names without a host go: `quay.io`, or `127.0.0.1:5001/broken/prepared` with a prefix. */
  upstream: DefaultUpstream;
  allowlist: Allowlist;
  /** Hosts spoken to over plain HTTP. */
  insecure: readonly HostPattern[];
  /** How long a cached tag is served before the upstream is asked again. */
  ttlMs: number;
  timeouts: ProxyTimeouts;
}

export interface ProxyFlags {
  upstream?: string;
  allowUpstream?: string[];
  upstreamInsecure?: string[];
  proxyTtl?: string;
}

export function resolveProxyOptions(flags: ProxyFlags): ProxyOptions {
  const upstream = parseDefaultUpstream(flags.upstream ?? DEFAULT_UPSTREAM);
  if (typeof upstream === 'string') throw new UsageError(`--upstream: ${upstream}`);
  const given = flags.allowUpstream ?? [];
  const patterns: HostPattern[] = (given.length > 0 ? given : DEFAULT_ALLOWED_UPSTREAMS).map((text) =>
    requirePattern('--allow-upstream', text, given.length > 0),
  );
  // The configured upstream is always allowed; naming it on the command line opens it like an
  // exact --allow-upstream would (the operator asked for that host).
  patterns.push(requirePattern('--upstream', upstream.host, flags.upstream !== undefined));
  const insecure = (flags.upstreamInsecure ?? []).map((text) => requirePattern('--upstream-insecure', text, true));
  const ttlText = flags.proxyTtl ?? DEFAULT_PROXY_TTL;
  let ttlMs: number;
  try {
    ttlMs = parseDuration(ttlText);
  } catch (error) {
    throw new UsageError(`--proxy-ttl: ${(error as Error).message}`);
  }
  if (ttlMs < 0) throw new UsageError(`--proxy-ttl: "${ttlText}" is negative`);
  return { upstream, allowlist: new Allowlist(patterns), insecure, ttlMs, timeouts: DEFAULT_TIMEOUTS };
}

function requirePattern(flag: string, text: string, explicit: boolean): HostPattern {
  const pattern = parseHostPattern(text, explicit);
  if (typeof pattern === 'string') throw new UsageError(`${flag}: ${pattern}`);
  return pattern;
}
