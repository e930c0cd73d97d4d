// Who may use the control plane: the addresses in allow ("loopback" for 127.0.0.0/8 and ::1, the
// default) without a token, anyone else only with `Authorization: Bearer <--admin-token>`, and
// nobody else when there is no token.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { RegistryError } from '../oci/errors.js';

export const LOOPBACK = 'loopback';

export interface AdminAccess {
  /** Client addresses admitted without a token: exact IPs, or "loopback". */
  allow: readonly string[];
  /** The bearer token that admits any other client; none keeps them out. */
  token?: string;
}

export function isLoopback(address: string): boolean {
  const ip = address.startsWith('::ffff:') ? address.slice(7) : address;
  return ip === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip);
}

/** Throws the refusal (403 without a token configured, 401 with one) unless the client is admitted. */
export function checkAdmin(req: IncomingMessage, access: AdminAccess): void {
  const raw = req.socket.remoteAddress ?? '';
  const address = raw.startsWith('::ffff:') ? raw.slice(7) : raw;
  if (access.allow.some((allowed) => (allowed === LOOPBACK ? isLoopback(address) : allowed === address))) return;
  if (access.token === undefined) {
    throw new RegistryError('FORBIDDEN', `the control plane answers ${access.allow.join(', ')} only; start serve with --admin-token to open it to ${address} with a bearer token`);
  }
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1] || !sameSecret(match[1], access.token)) {
    throw new RegistryError('UNAUTHORIZED', header ? 'the admin token is wrong' : 'the control plane needs Authorization: Bearer <admin token> from this address', {
      headers: { 'WWW-Authenticate': 'Bearer realm="broken-reg control plane"' },
    });
  }
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
