// broken/fault/<rules>/<repository>: any failure on any request for any name this registry serves.
// A Decorator over the two seams: the request body a handler reads and the plan it answers with. A
// request the rules do not select goes straight to the inner name; a selected one gets its faults on
// the way in (delay, status before the inner handler, a slow or cut request body) and on the way out
// (header lies, Range variants, a reshaped body). A fault changes only what is sent, never what is
// stored: the inner handler stores what it receives, and its answer is reshaped after the fact.
import { Readable } from 'node:stream';
import { withContext, type ContextOverrides, type Destination, type RequestContext } from '../http/context.js';
import type { ResponsePlan } from '../http/response.js';
import type { Decorator } from '../scenarios/scenario.js';
import { checkLimits, FAULT_KEYS, parseRules, rulesInvalid, RulesError, type FaultRules } from './rules.js';
import { Counters, digestMatches, requestKey, scheduled, selects, type Selection } from './matcher.js';
import { errorPlan, header, headerLies, rangePlan } from './plan.js';
import { cutConnection, reshapePlan, type ReshapeEnv } from './body.js';
import { receiveFaults } from './upload.js';

/** Operations whose request carries a body that receive faults (rate-, reset-) act on. */
const RECEIVING = new Set(['manifest.put', 'upload.start', 'upload.patch', 'upload.finish']);

/** The most rule sets kept parsed; parsing again is cheap, this only saves it on every request. */
const MAX_PARSED = 1_000;

type Next = (inner: RequestContext) => Promise<void>;

class FaultDecorator implements Decorator {
  readonly name = 'fault';
  readonly summary = 'Any failure on any request of any image: statuses, delays, slow, cut, corrupt or lying answers, recovery after N tries.';
  readonly example = 'broken/fault/on-blob_status-503_times-2/broken/random:layers-3_size-1m_seed-7';
  readonly parameters = FAULT_KEYS.map((k) => ({ name: k.key, description: `${k.key}-${k.value}: ${k.summary}`, example: k.example }));

  /** Counts of matching requests, per rule set and request: one per decorator, so per app. */
  private readonly counters = new Counters();
  private readonly parsed = new Map<string, FaultRules | RulesError>();

  private rules(text: string, maxWaitMs: number): FaultRules {
    let rules = this.parsed.get(text);
    if (rules === undefined) {
      try {
        rules = parseRules(text);
        rules = checkLimits(rules, maxWaitMs) ?? rules;
      } catch (error) {
        if (!(error instanceof RulesError)) throw error;
        rules = error;
      }
      if (this.parsed.size >= MAX_PARSED) this.parsed.clear();
      this.parsed.set(text, rules);
    }
    if (rules instanceof RulesError) throw rulesInvalid(text, rules);
    return rules;
  }

  /** For run-time rules (POST /_broken/rules): the parser's message, or undefined when the rules are good. */
  validate(text: string): string | undefined {
    try {
      parseRules(text);
      return undefined;
    } catch (error) {
      if (error instanceof RulesError) return error.message;
      throw error;
    }
  }

  /** POST /_broken/reset: every rule set counts from its first matching request again. */
  reset(): void {
    this.counters.clear();
  }

  /** Not async itself: a request the rules do not select goes to next without an extra promise. */
  handle(ctx: RequestContext, text: string, next: Next): Promise<void> {
    let rules: FaultRules;
    try {
      rules = this.rules(text, ctx.deps.config.limits.maxTimeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    const method = ctx.req.method ?? 'GET';
    const selection = selects(rules, ctx.route, method);
    if (selection === 'no') return next(ctx);
    return this.apply(ctx, text, rules, method, selection, next);
  }

  private async apply(ctx: RequestContext, text: string, rules: FaultRules, method: string, selection: Selection, next: Next): Promise<void> {
    const key = requestKey(ctx.route, method);
    const due = () => {
      const index = this.counters.take(text, key);
      const failing = scheduled(rules, index, key, ctx.deps.random);
      ctx.note?.(`fault ${text}: matching request ${index + 1}${failing ? ', failed' : ', passed'}`);
      return failing;
    };
    if (selection === 'by-digest') {
      // A manifest asked for by tag: selected by the digest of the inner answer.
      const prefix = rules.digest as string;
      return next(
        withContext(ctx, {
          respond: async (plan, to) => {
            const digest = header(plan.headers, 'Docker-Content-Digest');
            if (typeof digest !== 'string' || !digestMatches(prefix, digest) || !due()) return ctx.respond(plan, to);
            if (!(await delayed(ctx, rules))) return;
            if (rules.status !== undefined) return answerStatus(ctx, rules, rules.status);
            return ctx.respond(outgoing(ctx, rules, plan, to), to);
          },
        }),
      );
    }
    if (!due()) return next(ctx);
    if (!(await delayed(ctx, rules))) return;
    if (rules.status !== undefined) return answerStatus(ctx, rules, rules.status);
    return next(inward(ctx, rules));
  }
}

/** Waits delay-<duration>; false when the client hung up meanwhile (the connection is then dropped). */
async function delayed(ctx: RequestContext, rules: FaultRules): Promise<boolean> {
  if (rules.delay === undefined || rules.delay <= 0) return true;
  try {
    await ctx.deps.clock.sleep(rules.delay, ctx.signal);
    return true;
  } catch {
    ctx.res.destroy();
    return false;
  }
}

/** status-<N>, answered before the inner handler runs: nothing of an upload's body is read or stored. */
async function answerStatus(ctx: RequestContext, rules: FaultRules, status: number): Promise<void> {
  let plan = errorPlan(rules, status, ctx.req.headers.host ?? 'localhost', ctx.route.name, ctx.deps.clock.now());
  // A client still sending its body (a PATCH) must read the status, not a broken pipe: the body is
  // read and thrown away first, up to a bound; past it the connection is closed as writeError does.
  if (!ctx.req.complete) await discardBody(ctx.body, DISCARD_LIMIT).catch(() => undefined);
  if (!ctx.req.complete) plan = { ...plan, headers: { ...plan.headers, Connection: 'close' } };
  return ctx.respond(outgoing(ctx, rules, plan));
}

/** The most of a refused request's body read (and dropped) before its status is sent. */
const DISCARD_LIMIT = 256 * 1024 * 1024;

async function discardBody(body: AsyncIterable<Uint8Array>, limit: number): Promise<void> {
  let seen = 0;
  const source = body instanceof Readable ? body.iterator({ destroyOnReturn: false }) : body;
  for await (const chunk of source as AsyncIterable<Uint8Array>) {
    seen += chunk.length;
    if (seen > limit) return;
  }
}

/** The context the inner handler gets: its request body and its answer with the faults applied. */
function inward(ctx: RequestContext, rules: FaultRules): RequestContext {
  const overrides: ContextOverrides = {};
  if (RECEIVING.has(ctx.route.operation)) {
    const length = Number(ctx.req.headers['content-length']);
    const body = receiveFaults(ctx.body, rules, {
      clock: ctx.deps.clock,
      signal: ctx.signal,
      socket: ctx.req.socket,
      length: Number.isSafeInteger(length) ? length : undefined,
    });
    if (body) overrides.body = body;
    overrides.respond = (plan, to) => ctx.respond(headerLies(plan, rules), to);
    return withContext(ctx, overrides);
  }
  const range = ctx.req.headers.range;
  overrides.respond = (plan, to) => {
    // An answer sent to another request (broken/redirect's origin) answers that request's Range.
    const ranged = rules.range && ctx.route.operation === 'blob.get' ? rangePlan(rules.range, to?.unranged ?? plan, to ? to.req.headers.range : range) : plan;
    return ctx.respond(outgoing(ctx, rules, ranged, to), to);
  };
  const inner = withContext(ctx, overrides);
  // range-<mode>: the inner handler answers the whole blob; rangePlan makes the wrong answer from it.
  if (rules.range && range !== undefined && ctx.route.operation === 'blob.get') return withRequest(inner, { ...ctx.req.headers, range: undefined });
  return inner;
}

/** A context whose request has other headers (the Range a range fault answers itself). */
function withRequest(ctx: RequestContext, headers: RequestContext['req']['headers']): RequestContext {
  const req = Object.create(ctx.req, { headers: { value: headers, enumerable: true } }) as RequestContext['req'];
  return withContext(ctx, { req });
}

/** An answer on its way out: header lies, then the body reshaped (rate, stall, drip, cut, corrupt). */
function outgoing(ctx: RequestContext, rules: FaultRules, plan: ResponsePlan, to?: Destination): ResponsePlan {
  // A cut ends the connection the answer goes out on: the origin's, for an answer sent there.
  const env: ReshapeEnv = { clock: ctx.deps.clock, cut: (kind) => cutConnection((to ?? ctx).res, kind) };
  // Reshaped first: corrupt and pct offsets use the length before length-none takes it away.
  return headerLies(reshapePlan(plan, rules, env), rules);
}

export function createFaultDecorator(): Decorator {
  return new FaultDecorator();
}
