// serve --auth: the check in front of repository dispatch and the token service at /token, built once
// from AuthOptions (reading the htpasswd file and the signing key here, at start, and only here).
import fs from 'node:fs';
import { RegistryError } from '../oci/errors.js';
import type { Endpoint } from '../http/endpoint.js';
import type { Route } from '../http/routes.js';
import type { Clock } from '../clock.js';
import type { AuthOptions } from './options.js';
import { generateSigningKey, parseSigningKey, type SigningKey } from './jwt.js';
import { htpasswdUsers, parseHtpasswd, type UserCheck } from './htpasswd.js';
import { TokenAuthority } from './tokens.js';
import { answerTokenAsk, readTokenAsk } from './realm.js';
import { basicGuard, tokenGuard, REALM_PATH, SERVICE, type Guard } from './guard.js';
import { formatScope, parseScopes, type Access } from './scope.js';
import { requestOrigin } from './origin.js';
import { emptyPlan } from '../http/response.js';

export { REALM_PATH, SERVICE, type Guard } from './guard.js';
export { resolveAuthOptions, addAuthOptions, type AuthOptions, type AuthFlags } from './options.js';

export interface Auth {
  /** Undefined with --auth none: every request goes on. */
  guard?: Guard;
  /** The token service at /token (there with every --auth, so every challenge's realm exists). */
  endpoint: Endpoint;
}

export interface AuthParts {
  clock: Clock;
  /** Routes another check owns (broken/auth). */
  exempt(route: Route): boolean;
  /** The realm path that issues tokens for a repository another check owns (broken/auth's own). */
  delegate?(name: string, origin: string): string | undefined;
}

export function createAuth(options: AuthOptions, { clock, exempt, delegate }: AuthParts): Auth {
  const users = options.htpasswd ? htpasswdUsers(readOnce('--htpasswd', options.htpasswd, parseHtpasswd)) : undefined;
  const key: SigningKey = options.tokenKey ? readOnce('--token-key', options.tokenKey, parseSigningKey) : generateSigningKey();
  const authority = new TokenAuthority(key, () => clock.now().getTime());
  const open = options.mode === 'none';
  const endpoint: Endpoint = {
    name: 'token',
    matches: (path) => path === REALM_PATH,
    async handle(request) {
      if (request.method !== 'GET' && request.method !== 'POST') {
        throw new RegistryError('UNSUPPORTED', `${request.method} is not supported by the token service: GET or POST`, { headers: { Allow: 'GET, POST' } });
      }
      // A client that took its realm from the /v2/ challenge asks here for a broken/auth name: the
      // request goes on to that name's own realm (307 keeps the method and the body).
      const elsewhere = request.method === 'GET' ? delegatedRealm(request.query.getAll('scope'), requestOrigin(request.req), delegate) : undefined;
      if (elsewhere) {
        request.note(`token GET for ${elsewhere}: redirected there`);
        return emptyPlan(307, { Location: `${elsewhere}${(request.req.url ?? '').slice(REALM_PATH.length)}` });
      }
      const ask = await readTokenAsk(request, SERVICE);
      const elsewherePost = delegatedRealm(ask.scopes.map(formatScope), requestOrigin(request.req), delegate);
      if (elsewherePost) {
        request.note(`token POST for ${elsewherePost}: redirected there`);
        return emptyPlan(307, { Location: elsewherePost });
      }
      return answerTokenAsk(ask, {
        authority,
        // With --auth none nothing is checked: any credentials do, and tokens grant what is asked.
        users: open || !users ? (open ? anyone : nobody) : users,
        service: SERVICE,
        ttlMs: options.tokenTtlMs,
        grant: (subject, asked) => grant(subject, asked, open, options.anonymous === 'pull'),
      }, request.note);
    },
  };
  if (options.mode === 'none') return { endpoint };
  const guard = options.mode === 'token' ? tokenGuard(authority, { exempt }) : basicGuard(users as UserCheck, options.anonymous === 'pull', { exempt });
  return { guard, endpoint };
}

/** The realm a request's scopes belong to, when one names a repository another realm issues for. */
function delegatedRealm(scopes: readonly string[], origin: string, delegate: AuthParts['delegate']): string | undefined {
  if (!delegate) return undefined;
  for (const access of parseScopes(scopes)) {
    if (access.type !== 'repository') continue;
    const realm = delegate(access.name, origin);
    if (realm) return realm;
  }
  return undefined;
}

const anyone: UserCheck = { verify: async () => true };
const nobody: UserCheck = { verify: async () => false };

const USER_ACTIONS = new Set(['pull', 'push', 'delete', '*']);

/** Users get what they ask for on any repository and the catalog; anonymous clients pull, or nothing. */
function grant(subject: string | undefined, asked: readonly Access[], open: boolean, anonymousPull: boolean): Access[] {
  const granted: Access[] = [];
  for (const access of asked) {
    let actions: string[];
    if (open || subject !== undefined) {
      actions = access.type === 'repository' ? access.actions.filter((a) => USER_ACTIONS.has(a)) : access.type === 'registry' && access.name === 'catalog' ? access.actions.filter((a) => a === '*') : [];
    } else {
      actions = anonymousPull && access.type === 'repository' ? access.actions.filter((a) => a === 'pull') : [];
    }
    if (actions.length > 0) granted.push({ type: access.type, name: access.name, actions });
  }
  return granted;
}

/** Reads and parses a file named by a flag, once; any problem is one line naming the flag and file. */
function readOnce<T>(flag: string, file: string, parse: (text: string) => T): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`${flag} ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  try {
    return parse(text);
  } catch (error) {
    throw new Error(`${flag} ${file}: ${(error as Error).message}`);
  }
}
