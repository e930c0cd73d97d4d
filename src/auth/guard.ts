// The auth check in front of repository dispatch (serve --auth basic|token): one function of the
// request context that returns when the request may go on and throws a 401 with a challenge when not.
// The token check is synchronous and costs a map lookup for a token seen before (tokens.ts).
import type { RequestContext } from '../http/context.js';
import type { Route } from '../http/routes.js';
import { requestOrigin } from './origin.js';
import { basicCredentials, type UserCheck } from './htpasswd.js';
import { allows, requiredAccess, type Access } from './scope.js';
import type { TokenAuthority } from './tokens.js';
import { basicHeader, bearerHeader, scopeOf, unauthorized, type ChallengeError } from './challenge.js';

/** Returns (or resolves) when the request may be served; throws a 401 RegistryError otherwise. */
export type Guard = (ctx: RequestContext) => void | Promise<void>;

export const REALM_PATH = '/token';
export const SERVICE = 'broken-reg';
export const BASIC_REALM = 'broken-reg';

export interface GuardOptions {
  /** Routes another check owns (broken/auth names challenge for themselves). */
  exempt(route: Route): boolean;
}

/** The access a request needs, with pull on the source repository of a cross-repository mount. */
function needs(ctx: RequestContext): Access[] {
  const access = requiredAccess(ctx.route);
  if (!access) return [];
  if (ctx.route.operation !== 'upload.start') return [access];
  const from = ctx.query.get('from');
  return from && ctx.query.get('mount') ? [access, { type: 'repository', name: from, actions: ['pull'] }] : [access];
}

export function tokenGuard(authority: TokenAuthority, options: GuardOptions): Guard {
  return (ctx) => {
    if (options.exempt(ctx.route)) return;
    const wanted = needs(ctx);
    const header = ctx.req.headers.authorization;
    const token = header !== undefined && /^bearer /i.test(header) ? header.slice(7).trim() : undefined;
    const refuse = (why: ChallengeError | 'none', access: Access | undefined = wanted[0]) => {
      const scope = wanted.length > 0 ? wanted.map((a) => scopeOf(a)).join(' ') : undefined;
      const challenge = bearerHeader({ realm: `${requestOrigin(ctx.req)}${REALM_PATH}`, service: SERVICE, scope, error: why === 'none' ? undefined : why });
      return unauthorized(access, challenge, why);
    };
    if (!token) throw refuse('none');
    const verified = authority.verifyAccess(token, SERVICE);
    if (!verified) throw refuse('invalid_token');
    for (const access of wanted) if (!allows(verified.grants, access)) throw refuse('insufficient_scope', access);
  };
}

export function basicGuard(users: UserCheck, anonymousPull: boolean, options: GuardOptions): Guard {
  return async (ctx) => {
    if (options.exempt(ctx.route)) return;
    const wanted = needs(ctx);
    const header = ctx.req.headers.authorization;
    // A header that says something, even garbled, is a claim to check, never anonymous; an empty
    // user and password (containers/image sends `Basic Og==` without credentials) is no claim.
    const empty = /^basic\s+og==\s*$/i.test(header ?? '');
    if (header === undefined || empty) {
      const pullOnly = wanted.length > 0 && wanted.every((a) => a.type === 'repository' && a.actions.length === 1 && a.actions[0] === 'pull');
      if (anonymousPull && pullOnly) return;
      throw unauthorized(wanted[0], basicHeader(BASIC_REALM));
    }
    const credentials = basicCredentials(header);
    if (!credentials || !(await users.verify(credentials))) throw unauthorized(wanted[0], basicHeader(BASIC_REALM), 'none', 'wrong username or password');
  };
}
