// The tokens a token service issues and a registry checks: access tokens (JWTs carrying the granted
// access, as distribution's token spec has them) and refresh tokens (Docker Hub's offline tokens,
// traded for access tokens with `grant_type=refresh_token`). A checked access token is remembered
// until it expires, so a request costs a map lookup, not a signature check.
import crypto from 'node:crypto';
import { signJwt, verifyJwt, type SigningKey } from './jwt.js';
import { grantsOf, parseScopes, formatScope, type Access, type Grants } from './scope.js';

export const ISSUER = 'broken-reg';
/** How long an offline (refresh) token lives. */
export const REFRESH_TTL_MS = 7 * 24 * 3600 * 1000;
/** Most checked tokens remembered at once; beyond it the oldest are forgotten (and checked again). */
const CACHE_LIMIT = 10_000;

export interface IssuedToken {
  token: string;
  issuedAtMs: number;
  expiresAtMs: number;
  /** A unique id, for per-token counters. */
  id: string;
}

export interface VerifiedToken {
  id: string;
  subject: string;
  issuedAtMs: number;
  expiresAtMs: number;
  grants: Grants;
  /** Claims a token service added for itself (broken/auth keeps its sequence number there). */
  extra: Record<string, unknown>;
}

export interface IssueRequest {
  subject: string;
  service: string;
  access: readonly Access[];
  ttlMs: number;
  extra?: Record<string, unknown>;
}

export class TokenAuthority {
  private readonly checked = new Map<string, VerifiedToken>();

  constructor(
    private readonly key: SigningKey,
    private readonly now: () => number,
  ) {}

  issueAccess({ subject, service, access, ttlMs, extra = {} }: IssueRequest): IssuedToken {
    const issuedAtMs = this.now();
    const expiresAtMs = issuedAtMs + ttlMs;
    const id = crypto.randomUUID();
    const claims = {
      ...extra,
      iss: ISSUER,
      sub: subject,
      aud: service,
      iat: Math.floor(issuedAtMs / 1000),
      nbf: Math.floor(issuedAtMs / 1000),
      // Seconds, fractions allowed (RFC 7519 NumericDate): tokens may live less than a second here.
      exp: expiresAtMs / 1000,
      jti: id,
      access: access.map(({ type, name, actions }) => ({ type, name, actions })),
    };
    return { token: signJwt(this.key, claims), issuedAtMs, expiresAtMs, id };
  }

  issueRefresh(subject: string, service: string): string {
    const now = this.now();
    return signJwt(this.key, { iss: ISSUER, sub: subject, aud: service, iat: Math.floor(now / 1000), exp: (now + REFRESH_TTL_MS) / 1000, jti: crypto.randomUUID(), token_use: 'refresh' });
  }

  /** The subject of a refresh token this authority issued for the service, if it is still valid. */
  verifyRefresh(token: string, service: string): string | undefined {
    const claims = verifyJwt(this.key, token);
    if (!claims || claims.token_use !== 'refresh' || claims.aud !== service || claims.iss !== ISSUER) return undefined;
    if (typeof claims.exp !== 'number' || claims.exp * 1000 <= this.now() || typeof claims.sub !== 'string') return undefined;
    return claims.sub;
  }

  /** The access token's grants, if this authority signed it for the service and it has not expired. */
  verifyAccess(token: string, service: string): VerifiedToken | undefined {
    const now = this.now();
    const cached = this.checked.get(token);
    if (cached) {
      if (cached.expiresAtMs > now) return cached;
      this.checked.delete(token);
      return undefined;
    }
    const verified = this.check(token, service, now);
    if (verified) this.remember(token, verified, now);
    return verified;
  }

  private check(token: string, service: string, now: number): VerifiedToken | undefined {
    const claims = verifyJwt(this.key, token);
    if (!claims || claims.iss !== ISSUER || claims.aud !== service || claims.token_use !== undefined) return undefined;
    const { exp, iat, nbf, sub, jti, access } = claims;
    if (typeof exp !== 'number' || typeof iat !== 'number' || typeof sub !== 'string' || typeof jti !== 'string' || !Array.isArray(access)) return undefined;
    if (exp * 1000 <= now || (typeof nbf === 'number' && nbf * 1000 > now + 1000)) return undefined;
    // The access claim is read back through the scope grammar: whatever it holds, only well-formed grants count.
    const granted = parseScopes(access.flatMap((entry: unknown) => (isAccess(entry) ? [formatScope(entry)] : [])));
    const extra: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(claims)) if (!STANDARD.has(name)) extra[name] = value;
    return { id: jti, subject: sub, issuedAtMs: iat * 1000, expiresAtMs: exp * 1000, grants: grantsOf(granted), extra };
  }

  private remember(token: string, verified: VerifiedToken, now: number): void {
    if (this.checked.size >= CACHE_LIMIT) {
      for (const [key, entry] of this.checked) if (entry.expiresAtMs <= now) this.checked.delete(key);
      while (this.checked.size >= CACHE_LIMIT) {
        const oldest = this.checked.keys().next().value;
        if (oldest === undefined) break;
        this.checked.delete(oldest);
      }
    }
    this.checked.set(token, verified);
  }
}

const STANDARD = new Set(['iss', 'sub', 'aud', 'iat', 'nbf', 'exp', 'jti', 'access']);

function isAccess(value: unknown): value is Access {
  const entry = value as Partial<Access> | null;
  return (
    typeof entry === 'object' && entry !== null && typeof entry.type === 'string' && typeof entry.name === 'string' &&
    Array.isArray(entry.actions) && entry.actions.every((action) => typeof action === 'string')
  );
}
