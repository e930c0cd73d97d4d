// The error answer for a chosen HTTP status: the seed's five kept exactly, fitting OCI codes for the
// statuses clients care about, and the protocol headers each status carries. broken/error answers
// with it, and so does a fault's status-<code>.
import { STATUS_CODES } from 'node:http';
import { RegistryError } from '../oci/errors.js';
import { REALM_PATH, SERVICE } from '../auth/guard.js';
import { bearerHeader } from '../auth/challenge.js';

interface ErrorAnswer {
  code: string;
  message: string;
}

/** The seed's five answers, kept exactly, and fitting OCI codes for the statuses clients care about. */
const ANSWERS: Readonly<Record<number, ErrorAnswer>> = {
  400: { code: 'MANIFEST_INVALID', message: 'Eww! That request looks bad, very bad... just awful.' },
  401: { code: 'UNAUTHORIZED', message: 'authentication required' },
  403: { code: 'FORBIDDEN', message: 'Fakereg: Access to this resource is forbidden' },
  404: { code: 'MANIFEST_UNKNOWN', message: 'Looking for something?' },
  405: { code: 'UNAUTHORIZED', message: 'Method not allowed' },
  408: { code: 'TIMEOUT', message: 'request timed out' },
  413: { code: 'TOO_LARGE', message: 'request entity too large' },
  416: { code: 'RANGE_INVALID', message: 'requested range not satisfiable' },
  429: { code: 'TOOMANYREQUESTS', message: 'too many requests' },
  500: { code: 'INTERNAL_SERVER_ERROR', message: 'Working as intended... probably...' },
  501: { code: 'NOT_IMPLEMENTED', message: 'not implemented' },
  502: { code: 'BAD_GATEWAY', message: 'bad gateway' },
  503: { code: 'UNAVAILABLE', message: 'service unavailable' },
  504: { code: 'GATEWAY_TIMEOUT', message: 'gateway timeout' },
};

/** Seconds a 429 or 503 asks the client to wait. */
export const RETRY_AFTER_SECONDS = 1;

/**
 * The error a status tag answers with: any status 400-599, anything else 501 "Huh?" as in the seed.
 * origin is where the client reached the server (scheme://host): a 401 names this server's own token
 * realm there, which answers, so a client that fetches a token and retries sees this error's message.
 */
export function errorForStatus(tag: string, origin: string, repository: string, from: 'tag' | 'path' = 'tag'): RegistryError {
  const status = /^[45]\d\d$/.test(tag) ? Number(tag) : undefined;
  if (status === undefined) {
    return new RegistryError('NOT_IMPLEMENTED', 'Huh?', { detail: from === 'tag' ? { tag: tag.slice(0, 130) } : { status: tag.slice(0, 130) } });
  }
  const answer = ANSWERS[status] ?? genericAnswer(status);
  const headers: Record<string, string> = {};
  if (status === 401) {
    headers['WWW-Authenticate'] = bearerHeader({ realm: `${origin}${REALM_PATH}`, service: SERVICE, scope: `repository:${repository}:pull` });
  }
  if (status === 429 || status === 503) headers['Retry-After'] = String(RETRY_AFTER_SECONDS);
  return RegistryError.custom(status, answer.code, answer.message, { headers, detail: { status } });
}

function genericAnswer(status: number): ErrorAnswer {
  const text = STATUS_CODES[status] ?? (status < 500 ? 'Client Error' : 'Server Error');
  return { code: text.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_|_$/g, ''), message: `${status} ${text}, as asked` };
}

