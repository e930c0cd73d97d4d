// The registry token flow. An upstream answers 401 with `WWW-Authenticate: Bearer realm=...,
// service=..., scope=...`; the proxy asks the realm for a token (with Basic credentials for that
// registry when it has them) and retries with `Authorization: Bearer <token>`. A plain Basic challenge
// is answered with the credentials directly. Tokens are kept per registry and scope until they expire.
import { RegistryError } from '../oci/errors.js';
import { basicAuthorization, type Credentials } from './docker-config.js';

export interface Challenge {
  /** Lower-case: `bearer`, `basic`. */
  scheme: string;
  params: Record<string, string>;
}

/** Parses a WWW-Authenticate header into its challenges (RFC 9110 §11.6.1), tolerating sloppy forms. */
export function parseWwwAuthenticate(header: string): Challenge[] {
  const challenges: Challenge[] = [];
  let i = 0;
  const skip = (pattern: RegExp) => {
    while (i < header.length && pattern.test(header[i] ?? '')) i++;
  };
  const token = () => {
    const start = i;
    while (i < header.length && /[^\s,=]/.test(header[i] ?? '')) i++;
    return header.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < header.length) {
    skip(/[\s,]/);
    if (i >= header.length) break;
    const start = i;
    const word = token();
    skip(/\s/);
    if (header[i] === '=' && current) {
      i++;
      skip(/\s/);
      current.params[word.toLowerCase()] = readValue();
      continue;
    }
    if (!word) {
      i = start + 1;
      continue;
    }
    // A word not followed by "=" starts a new challenge.
    current = { scheme: word.toLowerCase(), params: {} };
    challenges.push(current);
  }
  return challenges;

  function readValue(): string {
    if (header[i] !== '"') return token();
    i++;
    let value = '';
    while (i < header.length && header[i] !== '"') {
      if (header[i] === '\\' && i + 1 < header.length) i++;
      value += header[i];
      i++;
    }
    i++;
    return value;
  }
}

interface CachedToken {
  authorization: string;
  expiresAt: number;
}

/** What the token cache needs from the HTTP client: a GET of the realm URL answering JSON. */
export type TokenRequest = (url: URL, headers: Record<string, string>) => Promise<{ status: number; json: unknown }>;

export interface AuthContext {
  /** The registry as named, for messages. */
  host: string;
  /** The scope a challenge without one is answered for, e.g. `repository:library/nginx:pull`. */
  scope: string;
  credentials?: Credentials;
}

/** Per-scenario auth state: the last challenge each registry sent and the tokens obtained for it. */
export class TokenCache {
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new Map<string, CachedToken>();

  constructor(private readonly now: () => number, private readonly requestToken: TokenRequest) {}

  /** The Authorization header to send first, when the registry challenged before and it is still valid. */
  cached(apiHost: string, auth: AuthContext): string | undefined {
    const challenge = this.challenges.get(apiHost);
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') return auth.credentials ? basicAuthorization(auth.credentials) : undefined;
    const token = this.tokens.get(tokenKey(apiHost, auth.scope));
    return token && token.expiresAt > this.now() ? token.authorization : undefined;
  }

  /** Answers a 401's challenge; undefined when it cannot be answered (no credentials for Basic). */
  async answer(apiHost: string, header: string | undefined, auth: AuthContext): Promise<string | undefined> {
    const challenges = header ? parseWwwAuthenticate(header) : [];
    const challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    if (!challenge) return undefined;
    this.challenges.set(apiHost, challenge);
    if (challenge.scheme === 'basic') return auth.credentials ? basicAuthorization(auth.credentials) : undefined;
    const token = await this.fetchToken(challenge, auth);
    this.tokens.set(tokenKey(apiHost, auth.scope), token);
    return token.authorization;
  }

  private async fetchToken(challenge: Challenge, auth: AuthContext): Promise<CachedToken> {
    const realm = challenge.params.realm;
    let url: URL;
    try {
      url = new URL(realm ?? '');
    } catch {
      throw new RegistryError('BAD_GATEWAY', `upstream ${auth.host} sent a Bearer challenge without a usable realm`);
    }
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    for (const scope of (challenge.params.scope ?? auth.scope).split(' ')) if (scope) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = {};
    if (auth.credentials) headers.Authorization = basicAuthorization(auth.credentials);
    const { status, json } = await this.requestToken(url, headers);
    if (status === 401 || status === 403) {
      const how = auth.credentials ? 'refused the credentials from the Docker config' : 'refused an anonymous token';
      throw new RegistryError(status === 401 ? 'UNAUTHORIZED' : 'DENIED', `upstream ${auth.host}: the token service ${url.host} ${how} (${status})`, {
        detail: { upstream: auth.host, realm: url.origin + url.pathname },
      });
    }
    const body = (typeof json === 'object' && json !== null ? json : {}) as Record<string, unknown>;
    const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : '';
    if (status !== 200 || !token) {
      throw new RegistryError('BAD_GATEWAY', `upstream ${auth.host}: the token service ${url.host} answered ${status} without a token`, {
        detail: { upstream: auth.host },
      });
    }
    const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    // Renew a little early so a token never expires between being picked and being used.
    return { authorization: `Bearer ${token}`, expiresAt: this.now() + Math.max(1, expiresIn - 5) * 1000 };
  }
}

function tokenKey(apiHost: string, scope: string): string {
  return `${apiHost} ${scope}`;
}
