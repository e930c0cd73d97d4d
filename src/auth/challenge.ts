// The 401 answers of an auth check: a WWW-Authenticate challenge naming a realm that exists and the
// scope the request needs, and the access asked for in the error's detail, as distribution gives it.
import { RegistryError } from '../oci/errors.js';
import type { Access } from './scope.js';
import { formatScope } from './scope.js';

export type ChallengeError = 'invalid_token' | 'insufficient_scope';

export interface BearerChallenge {
  realm: string;
  service: string;
  /** Omitted when undefined; may be empty or several scopes joined by spaces. */
  scope?: string;
  error?: ChallengeError;
}

export function bearerHeader({ realm, service, scope, error }: BearerChallenge): string {
  let header = `Bearer realm="${realm}",service="${service}"`;
  if (scope !== undefined) header += `,scope="${scope}"`;
  if (error) header += `,error="${error}"`;
  return header;
}

export function basicHeader(realm: string): string {
  return `Basic realm="${realm}"`;
}

const MESSAGES: Record<ChallengeError | 'none', string> = {
  none: 'authentication required',
  invalid_token: 'the token is not valid here (expired, revoked, or issued by another service)',
  insufficient_scope: 'the token does not grant the access this request needs',
};

/** A 401 with the challenge (none when challenge is undefined: a registry that forgot it). */
export function unauthorized(access: Access | undefined, challenge: string | undefined, why: ChallengeError | 'none' = 'none', message = MESSAGES[why]): RegistryError {
  const detail = access ? [{ Type: access.type, Name: access.name, Action: access.actions.join(',') }] : undefined;
  return new RegistryError('UNAUTHORIZED', message, { detail, headers: challenge ? { 'WWW-Authenticate': challenge } : {} });
}

export function scopeOf(access: Access | undefined): string | undefined {
  return access ? formatScope(access) : undefined;
}
