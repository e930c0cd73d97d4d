// broken/redirect/<rules>/<repository>: blob GET and HEAD of <repository> answer a redirect to the
// storage origin (storage-origin.ts), which serves the bytes the inner repository would have sent,
// with the quirks in the rules (redirect-rules.ts). Everything else passes through unchanged.
import { withContext, type Destination, type RequestContext } from '../http/context.js';
import type { ResponsePlan } from '../http/response.js';
import { emptyPlan } from '../http/response.js';
import { requestOrigin } from '../auth/origin.js';
import { REDIRECT_RULES, parseRedirectRules, type RedirectQuirks } from './redirect-rules.js';
import { StorageOrigin } from './storage-origin.js';
import type { Decorator } from './scenario.js';

export function createRedirectDecorator(): Decorator & { close(): Promise<void> } {
  let origin: StorageOrigin | undefined;
  const parsed = new Map<string, RedirectQuirks>();

  async function handle(ctx: RequestContext, rules: string, next: (inner: RequestContext) => Promise<void>): Promise<void> {
    let quirks = parsed.get(rules);
    if (!quirks) {
      quirks = parseRedirectRules(rules);
      if (parsed.size < 1000) parsed.set(rules, quirks);
    }
    if (ctx.route.operation !== 'blob.get' && ctx.route.operation !== 'blob.head') return next(ctx);
    const plan = await wholeBlob(ctx, next);
    if (plan.status !== 200) return ctx.respond(plan);
    const now = ctx.deps.clock.now().getTime();
    origin ??= new StorageOrigin(() => ctx.deps.clock.now().getTime(), ctx.deps.tls);
    const asked = new URL(requestOrigin(ctx.req));
    const hostname = asked.hostname.replace(/^\[|\]$/g, '');
    const other = quirks.otherHost ? (hostname === 'localhost' ? '127.0.0.1' : 'localhost') : hostname;
    // The registry's scheme, unless scheme-http asks for plain HTTP (or the registry was started
    // without giving its certificate to buildRegistry, when the origin can only speak HTTP).
    const scheme = asked.protocol === 'https:' && !quirks.plainHttp && origin.secure ? 'https' : 'http';
    const expiresAtMs = quirks.expireMs === undefined ? undefined : now + quirks.expireMs;
    // The origin's answers go out through this request's respond: the wrappers of the decorators
    // outside this one (a fault's cut, corruption or pacing) apply to the bytes the origin sends.
    const send = (answer: ResponsePlan, to: Destination) => ctx.respond(answer, to);
    const location = await origin.sign(scheme, other, { plan, quirks, served: 0, expiresAtMs, send });
    const digest = plan.headers['Docker-Content-Digest'];
    return ctx.respond(emptyPlan(quirks.code, { Location: location, ...(digest === undefined ? {} : { 'Docker-Content-Digest': digest }) }));
  }

  return {
    name: 'redirect',
    summary: 'Blob GET and HEAD answer a redirect to a second listener on loopback (the storage origin), with the quirks object storage has.',
    example: 'broken/redirect/auth-reject_expire-5s/broken/prepared/app:v1',
    parameters: REDIRECT_RULES.map((rule) => ({ name: rule.grammar, description: rule.summary, example: rule.example })),
    handle,
    close: async () => origin?.close(),
  };
}

/**
 * The inner repository's answer to a plain GET of the whole blob (no Range, whatever the client
 * asked), captured instead of sent: the origin serves it, and the Range, later.
 */
async function wholeBlob(ctx: RequestContext, next: (inner: RequestContext) => Promise<void>): Promise<ResponsePlan> {
  const headers = { ...ctx.req.headers };
  delete headers.range;
  const req = Object.create(ctx.req, { method: { value: 'GET' }, headers: { value: headers } }) as RequestContext['req'];
  let captured: ResponsePlan | undefined;
  const inner = withContext(ctx, {
    req,
    route: { ...ctx.route, operation: 'blob.get' as const },
    respond: async (plan: ResponsePlan) => void (captured = plan),
  });
  await next(inner);
  if (!captured) throw new Error('the inner repository answered no blob');
  return captured;
}
