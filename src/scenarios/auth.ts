// broken/auth/<rules>/<repository>: <repository> behind a token flow with the quirks real registries
// have (auth-rules.ts). It always challenges, whatever serve --auth says, and serves its own realm at
// /token/quirks/<rules>, so the quirks travel in the realm URL. Credentials: broken / broken, or none
// (anonymous tokens get everything asked too). Every realm request is logged with what was asked.
import { RegistryError } from '../oci/errors.js';
import type { RequestContext } from '../http/context.js';
import type { Endpoint, EndpointRequest } from '../http/endpoint.js';
import type { ServerDeps } from '../http/context.js';
import { jsonPlan, type ResponsePlan } from '../http/response.js';
import { requestOrigin } from '../auth/origin.js';
import { generateSigningKey } from '../auth/jwt.js';
import { TokenAuthority, type VerifiedToken } from '../auth/tokens.js';
import { basicCredentials, fixedUser } from '../auth/htpasswd.js';
import { allows, formatScope, requiredAccess, type Access } from '../auth/scope.js';
import { basicHeader, bearerHeader, unauthorized, type ChallengeError } from '../auth/challenge.js';
import { answerTokenAsk, describeAsk, readTokenAsk } from '../auth/realm.js';
import { Counter } from '../auth/counter.js';
import { AUTH_RULES, LIED_TTL_MS, parseAuthRules, type AuthQuirks } from './auth-rules.js';
import type { Decorator } from './scenario.js';

export const QUIRKS_REALM = '/token/quirks/';
export const QUIRKS_SERVICE = 'broken-reg-auth';
export const AUTH_USER = { username: 'broken', password: 'broken' };
/** Where realm-down points: a loopback port nothing listens on (as the tests' offline proxy assumes). */
const DOWN_PORT = 9;
const PLACEHOLDER_SCOPE = 'repository:user/image:pull';

export function createAuthDecorator(): Decorator {
  const key = generateSigningKey();
  const users = fixedUser(AUTH_USER.username, AUTH_USER.password);
  const uses = new Counter();
  // insufficient-blob: per outer name, the token sequence number at the first blob refusal.
  const blobRefusals = new Map<string, number>();
  const parsed = new Map<string, AuthQuirks>();
  let sequence = 0;
  let authority: TokenAuthority | undefined;
  const authorityFor = (deps: ServerDeps) => (authority ??= new TokenAuthority(key, () => deps.clock.now().getTime()));

  const quirksOf = (rules: string): AuthQuirks => {
    let quirks = parsed.get(rules);
    if (!quirks) {
      quirks = parseAuthRules(rules);
      if (parsed.size < 1000) parsed.set(rules, quirks);
    }
    return quirks;
  };

  /** The realm URL for rules, at origin (realm-down: the same host, a port where nothing listens). */
  function realmUrl(rules: string, origin: string): string {
    const realm = `${origin}${QUIRKS_REALM}${rules}`;
    if (!quirksOf(rules).realmDown) return realm;
    const url = new URL(realm);
    url.port = String(DOWN_PORT);
    return url.href;
  }

  function challenge(ctx: RequestContext, rules: string, quirks: AuthQuirks, access: Access | undefined, error?: ChallengeError): string {
    if (quirks.basic) return basicHeader('broken-reg');
    const realm = realmUrl(rules, requestOrigin(ctx.req));
    const exact = access ? formatScope(access) : undefined;
    const scope = { exact, omit: undefined, empty: '', placeholder: PLACEHOLDER_SCOPE, multi: exact && `${exact} registry:catalog:*` }[quirks.scope];
    return bearerHeader({ realm, service: QUIRKS_SERVICE, scope, error });
  }

  async function handle(ctx: RequestContext, rules: string, next: (inner: RequestContext) => Promise<void>): Promise<void> {
    const quirks = quirksOf(rules);
    const access = requiredAccess(ctx.route);
    const header = ctx.req.headers.authorization;
    if (quirks.basic) {
      const credentials = basicCredentials(header);
      if (!credentials || !(await users.verify(credentials))) throw unauthorized(access, challenge(ctx, rules, quirks, access), 'none', 'broken/auth basic: the credentials are broken / broken');
      return next(ctx);
    }
    const token = header !== undefined && /^bearer /i.test(header) ? header.slice(7).trim() : undefined;
    if (!token) throw unauthorized(access, challenge(ctx, rules, quirks, access));
    const verified = authorityFor(ctx.deps).verifyAccess(token, QUIRKS_SERVICE);
    const revoked = verified !== undefined && quirks.revokeAfter !== undefined && uses.hit(verified.id) > quirks.revokeAfter;
    if (!verified || verified.extra.rules !== rules || revoked) {
      // The 401 after expiry: with nochallenge, nothing tells the client where to get a new token.
      throw unauthorized(access, quirks.noChallenge ? undefined : challenge(ctx, rules, quirks, access, 'invalid_token'), 'invalid_token');
    }
    const scoped = quirks.scope === 'exact' || quirks.scope === 'multi';
    if (scoped && access && !allows(verified.grants, access)) throw unauthorized(access, challenge(ctx, rules, quirks, access, 'insufficient_scope'), 'insufficient_scope');
    if (quirks.insufficientBlob && ctx.route.operation.startsWith('blob.') && staleForBlobs(ctx.route.name, verified)) {
      throw unauthorized(access, challenge(ctx, rules, quirks, access, 'insufficient_scope'), 'insufficient_scope');
    }
    return next(ctx);
  }

  /** True for a token issued before the name's first blob refusal (which this call may be). */
  function staleForBlobs(name: string, verified: VerifiedToken): boolean {
    const issued = typeof verified.extra.seq === 'number' ? verified.extra.seq : 0;
    const refusedAt = blobRefusals.get(name);
    if (refusedAt === undefined) {
      if (blobRefusals.size < 10_000) blobRefusals.set(name, sequence);
      return true;
    }
    return issued <= refusedAt;
  }

  const endpoint: Endpoint = {
    name: 'auth-realm',
    matches: (path) => path.startsWith(QUIRKS_REALM),
    async handle(request: EndpointRequest): Promise<ResponsePlan> {
      const rules = request.path.slice(QUIRKS_REALM.length);
      const quirks = quirksOf(rules);
      if (request.method !== 'GET' && request.method !== 'POST') {
        throw new RegistryError('UNSUPPORTED', `${request.method} is not supported by the token service: GET or POST`, { headers: { Allow: 'GET, POST' } });
      }
      const ask = await readTokenAsk(request, QUIRKS_SERVICE);
      const refusal = realmRefusal(ask.method, quirks);
      if (refusal) request.note(`${describeAsk(ask)} answered ${refusal.status} (${rules})`);
      if (quirks.realmDelayMs > 0) await request.deps.clock.sleep(quirks.realmDelayMs, request.signal);
      if (refusal) return refusal;
      const plan = await answerTokenAsk(ask, {
        authority: authorityFor(request.deps),
        users,
        service: QUIRKS_SERVICE,
        ttlMs: quirks.ttlMs,
        grant: (_subject, asked) => asked.filter((a) => a.type === 'repository' || (a.type === 'registry' && a.name === 'catalog')),
        fields: quirks.field,
        announcedTtlMs: quirks.expiryLie ? LIED_TTL_MS : undefined,
        extra: () => ({ rules, seq: ++sequence }),
      }, request.note);
      if (quirks.jsonBad && plan.status === 200) return { status: 200, headers: { 'Content-Type': 'application/json', 'Content-Length': 18 }, body: { kind: 'bytes', bytes: Buffer.from('{"token": "eyJhbG,') } };
      return plan;
    },
  };

  return {
    name: 'auth',
    summary: 'The repository behind a token flow with the quirks real registries have: POST refused, odd challenges, tokens that expire mid-pull. Credentials broken / broken, or none.',
    example: 'broken/auth/post-404html_ttl-5s/broken/prepared/app:v1',
    parameters: AUTH_RULES.map((rule) => ({ name: rule.grammar, description: rule.summary, example: rule.example })),
    endpoints: [endpoint],
    realm: realmUrl,
    handle,
  };
}

/** The answer a realm gives instead of a token: 503, or the POST failures. */
function realmRefusal(method: 'GET' | 'POST', quirks: AuthQuirks): ResponsePlan | undefined {
  if (quirks.realm503) return jsonPlan(503, { errors: [{ code: 'UNAVAILABLE', message: 'the token service is unavailable', detail: {} }] }, { 'Retry-After': '1' });
  if (method !== 'POST') return undefined;
  if (quirks.getOnly) return jsonPlan(405, { errors: [{ code: 'UNSUPPORTED', message: 'POST is not supported by this token service', detail: {} }] }, { Allow: 'GET' });
  switch (quirks.post) {
    case '404html': {
      const page = Buffer.from('<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n');
      return { status: 404, headers: { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': page.length }, body: { kind: 'bytes', bytes: page } };
    }
    case '403':
      return jsonPlan(403, { errors: [{ code: 'DENIED', message: 'POST to the token service is forbidden', detail: {} }] });
    case '500':
      return jsonPlan(500, { errors: [{ code: 'INTERNAL_SERVER_ERROR', message: 'the token service failed', detail: {} }] });
    case 'json':
      return jsonPlan(400, { error: 'unsupported_grant_type', error_description: 'this token service does not take OAuth2 forms' });
    default:
      return undefined;
  }
}
