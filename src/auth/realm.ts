// A token service's realm: GET (distribution's token spec: Basic credentials or none, `scope` and
// `service` in the query) and POST (OAuth2 form, as Docker Hub has it: `grant_type=password` with
// username and password, or `grant_type=refresh_token`). Both answer a JWT with the access granted,
// `expires_in` and `issued_at`, and a refresh token when an offline token is asked for with credentials.
import { RegistryError } from '../oci/errors.js';
import { jsonPlan, type ResponsePlan } from '../http/response.js';
import type { EndpointRequest } from '../http/endpoint.js';
import { basicCredentials, type Credentials, type UserCheck } from './htpasswd.js';
import { formatScope, parseScopes, type Access } from './scope.js';
import type { TokenAuthority } from './tokens.js';

export type GrantType = 'anonymous' | 'basic' | 'password' | 'refresh_token';

/** What a client asked a realm for. The credentials and refresh token are never logged. */
export interface TokenAsk {
  method: 'GET' | 'POST';
  grantType: GrantType;
  credentials?: Credentials;
  refreshToken?: string;
  service: string;
  scopes: Access[];
  /** A refresh token is wanted (`offline_token=true` on GET, `access_type=offline` on POST). */
  offline: boolean;
}

const FORM_LIMIT = 64 * 1024;

export async function readTokenAsk(request: EndpointRequest, defaultService: string): Promise<TokenAsk> {
  if (request.method === 'POST') {
    const form = new URLSearchParams((await request.body(FORM_LIMIT)).toString('utf8'));
    const grant = form.get('grant_type');
    const common = { method: 'POST' as const, service: form.get('service') ?? defaultService, scopes: parseScopes(form.getAll('scope')), offline: form.get('access_type') === 'offline' };
    if (grant === 'password') {
      return { ...common, grantType: 'password', credentials: { username: form.get('username') ?? '', password: form.get('password') ?? '' } };
    }
    if (grant === 'refresh_token') return { ...common, grantType: 'refresh_token', refreshToken: form.get('refresh_token') ?? '' };
    throw oauthError('unsupported_grant_type', `grant_type must be password or refresh_token, got "${(grant ?? '').slice(0, 40)}"`);
  }
  const credentials = basicCredentials(request.req.headers.authorization);
  return {
    method: 'GET',
    grantType: credentials ? 'basic' : 'anonymous',
    credentials,
    service: request.query.get('service') ?? defaultService,
    scopes: parseScopes(request.query.getAll('scope')),
    offline: request.query.get('offline_token') === 'true',
  };
}

/** The log's view of an ask: method, grant type, account and scopes; never the password or a token. */
export function describeAsk(ask: TokenAsk, granted?: readonly Access[]): string {
  const account = ask.credentials ? ` account=${JSON.stringify(ask.credentials.username.slice(0, 64))}` : '';
  const scopes = ask.scopes.map(formatScope).join(' ');
  const answer = granted ? ` granted="${granted.map(formatScope).join(' ')}"` : '';
  return `token ${ask.method} grant=${ask.grantType}${account} service=${JSON.stringify(ask.service.slice(0, 64))} scope="${scopes}"${answer}`;
}

export interface RealmOptions {
  authority: TokenAuthority;
  users: UserCheck;
  service: string;
  ttlMs: number;
  /** The access a subject (undefined: anonymous) gets of what it asked for. */
  grant(subject: string | undefined, asked: readonly Access[]): Access[];
  /** Which field carries the token: both (as distribution does), or one of them. */
  fields?: 'both' | 'token' | 'access_token';
  /** The `expires_in` to announce instead of the real lifetime (a lie). */
  announcedTtlMs?: number;
  /** Claims of the service's own, added to each access token. */
  extra?: () => Record<string, unknown>;
}

/** Answers an ask: 401 for wrong credentials or a bad refresh token, else a token for what is granted. */
export async function answerTokenAsk(ask: TokenAsk, options: RealmOptions, note: (detail: string) => void): Promise<ResponsePlan> {
  const subject = await subjectOf(ask, options);
  if (subject === null) {
    note(`${describeAsk(ask)} refused`);
    if (ask.method === 'POST') throw oauthError('invalid_grant', ask.grantType === 'refresh_token' ? 'the refresh token is not valid' : 'wrong username or password', 401);
    throw new RegistryError('UNAUTHORIZED', 'wrong username or password');
  }
  const granted = options.grant(subject, ask.scopes);
  note(describeAsk(ask, granted));
  const issued = options.authority.issueAccess({ subject: subject ?? '', service: options.service, access: granted, ttlMs: options.ttlMs, extra: options.extra?.() });
  const announced = options.announcedTtlMs ?? options.ttlMs;
  const body: Record<string, unknown> = {};
  const fields = options.fields ?? 'both';
  if (fields !== 'access_token') body.token = issued.token;
  if (fields !== 'token') body.access_token = issued.token;
  body.expires_in = Math.max(1, Math.ceil(announced / 1000));
  body.issued_at = new Date(issued.issuedAtMs).toISOString();
  if (ask.method === 'POST') body.scope = granted.map(formatScope).join(' ');
  if (ask.offline && subject !== undefined && ask.grantType !== 'refresh_token') body.refresh_token = options.authority.issueRefresh(subject, options.service);
  return jsonPlan(200, body, { 'Cache-Control': 'no-store' });
}

/** The authenticated subject, undefined for an anonymous ask, null when the proof is wrong. */
async function subjectOf(ask: TokenAsk, options: RealmOptions): Promise<string | undefined | null> {
  if (ask.grantType === 'anonymous') return undefined;
  if (ask.grantType === 'refresh_token') return options.authority.verifyRefresh(ask.refreshToken ?? '', options.service) ?? null;
  const credentials = ask.credentials as Credentials;
  return (await options.users.verify(credentials)) ? credentials.username : null;
}

/** An OAuth2 error answer (RFC 6749 §5.2), as POST clients expect. */
function oauthError(error: string, description: string, status = 400): RegistryError {
  const failure = RegistryError.custom(status, 'UNAUTHORIZED', description);
  // The OAuth2 body replaces the OCI envelope: see toJSON.
  return Object.assign(failure, { toJSON: () => ({ error, error_description: description }) });
}
