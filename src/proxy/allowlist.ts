// Which upstream hosts the proxy may reach. Two rules, both checked before any request:
//   1. the host as named must match an --allow-upstream pattern (`quay.io`, `*.example.com`,
//      `127.0.0.1:5001`; a pattern without a port matches every port);
//   2. every address the host resolves to must be public, unless an operator-given pattern names the
//      host exactly (no wildcard) or it is the configured --upstream. Built-in defaults and wildcards
//      never open private addresses: anyone can point a subdomain at 169.254.169.254.
import { BlockList, isIP } from 'node:net';
import { RegistryError } from '../oci/errors.js';
import { canonicalHost } from './upstream-name.js';

export interface HostPattern {
  /** Host without port, lower-case; for wildcards the suffix after `*.`. */
  host: string;
  port?: string;
  wildcard: boolean;
  /** Given by the operator rather than a built-in default. */
  explicit: boolean;
  text: string;
}

export type LookupAll = (hostname: string) => Promise<{ address: string; family: number }[]>;

const PATTERN = /^(\*\.)?([a-z0-9.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/i;

/** Parses one pattern; returns an error message when it is not one. */
export function parseHostPattern(text: string, explicit: boolean): HostPattern | string {
  const trimmed = text.trim().toLowerCase();
  const match = PATTERN.exec(trimmed);
  if (!match || !match[2] || match[2].startsWith('.') || match[2].endsWith('.')) {
    return `"${text}" is not a host pattern (host, host:port or *.domain)`;
  }
  const wildcard = Boolean(match[1]);
  return { host: wildcard ? match[2] : canonicalHost(match[2]), port: match[3], wildcard, explicit, text: text.trim() };
}

/** Splits `host[:port]` (IPv6 in brackets) into its parts. */
export function splitHostPort(hostPort: string): { host: string; port?: string } {
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostPort.toLowerCase());
  if (!match) return { host: hostPort.toLowerCase() };
  return { host: match[1] ?? '', port: match[2] };
}

export function matchesPattern(pattern: HostPattern, hostPort: string): boolean {
  const { host, port } = splitHostPort(hostPort);
  if (pattern.port !== undefined && pattern.port !== port) return false;
  if (pattern.wildcard) return host.endsWith(`.${pattern.host}`);
  return canonicalHost(host) === pattern.host;
}

export class Allowlist {
  constructor(readonly patterns: readonly HostPattern[]) {}

  allows(hostPort: string): boolean {
    return this.patterns.some((pattern) => matchesPattern(pattern, hostPort));
  }

  /** Whether an operator named this host exactly, which lets it resolve to a private address. */
  mayReachPrivate(hostPort: string): boolean {
    return this.patterns.some((pattern) => pattern.explicit && !pattern.wildcard && matchesPattern(pattern, hostPort));
  }

  /** The same, by host name alone (at connect time the port is not known). */
  mayReachPrivateHost(hostname: string): boolean {
    const host = hostname.toLowerCase();
    return this.patterns.some((p) => p.explicit && !p.wildcard && (p.host === host || p.host === `[${host}]`));
  }

  /** Throws DENIED unless the named upstream host is on the list. */
  requireAllowed(hostPort: string): void {
    if (this.allows(hostPort)) return;
    throw new RegistryError(
      'DENIED',
      `upstream ${hostPort} is not allowed: start the server with --allow-upstream ${hostPort} to proxy it`,
      { detail: { upstream: hostPort, allowed: this.patterns.map((p) => p.text) } },
    );
  }
}

const PRIVATE_V4 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) {
  PRIVATE_V4.addSubnet(net, prefix, 'ipv4');
}
const PRIVATE_V6 = new BlockList();
// IPv4-mapped addresses in dotted form are checked as IPv4 below; in hex form they are refused outright.
for (const [net, prefix] of [['::', 128], ['::1', 128], ['::ffff:0:0', 96], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) {
  PRIVATE_V6.addSubnet(net, prefix, 'ipv6');
}

/** Loopback, private, link-local, carrier-grade NAT, multicast and reserved addresses. */
export function isPrivateAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped?.[1]) return PRIVATE_V4.check(mapped[1], 'ipv4');
  if (isIP(bare) === 4) return PRIVATE_V4.check(bare, 'ipv4');
  if (isIP(bare) === 6) return PRIVATE_V6.check(bare, 'ipv6');
  return true;
}

/** The error for a host that resolves to an address the proxy must not reach. */
export function privateAddressError(hostPort: string, address: string): RegistryError {
  return new RegistryError(
    'DENIED',
    `upstream ${hostPort} resolves to ${address}, a loopback, private or link-local address; allow it explicitly with --allow-upstream ${hostPort}`,
    { detail: { upstream: hostPort, address } },
  );
}

/** Resolves the host of url and throws DENIED if any address is private and the host not allowed to be. */
export async function requirePublicDestination(url: URL, allowlist: Allowlist, lookup: LookupAll): Promise<void> {
  const hostPort = url.host;
  if (allowlist.mayReachPrivate(hostPort)) return;
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(hostname) ? [{ address: hostname, family: isIP(hostname) }] : await resolveOrFail(hostname, hostPort, lookup);
  for (const { address } of addresses) {
    if (isPrivateAddress(address)) throw privateAddressError(hostPort, address);
  }
}

async function resolveOrFail(hostname: string, hostPort: string, lookup: LookupAll) {
  try {
    const addresses = await lookup(hostname);
    if (addresses.length === 0) throw new Error('no addresses');
    return addresses;
  } catch (error) {
    throw new RegistryError('BAD_GATEWAY', `upstream ${hostPort} cannot be resolved: ${(error as Error).message}`, {
      detail: { upstream: hostPort },
    });
  }
}
