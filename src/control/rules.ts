// Run-time rules: "serve requests that match this as if their name were decorated". A rule names a
// match (a repository glob, and optionally a reference glob, operations and a digest) and a rules
// string for a decorator (`fault` unless it says otherwise); a matching request is answered through
// that decorator's handle(ctx, rules, next) with next the normal dispatch, exactly as
// broken/<decorator>/<rules>/<repository> would answer it. So the names a test cannot change (a
// kubelet's docker.io/library/nginx, a tool's hard-coded image) fail the same ways. GET /v2/ and
// _catalog carry no name: their repository is "" and their operations are base and catalog.
import type { Handler, RequestContext } from '../http/context.js';
import { OPERATIONS, type Operation, type Route } from '../http/routes.js';
import type { Decorator } from '../scenarios/scenario.js';
import { globPattern, MAX_GLOB_LENGTH } from '../journal/glob.js';
import { operationMatches } from '../journal/journal.js';

export const DEFAULT_DECORATOR = 'fault';
export const MAX_RULES = 1_000;

export { OPERATIONS };
const FAMILIES = new Set(OPERATIONS.map((op) => op.split('.')[0] as string));

/** Operations whose reference is a digest a rule's `digest` can name. */
const BY_DIGEST = /^(manifest|blob|referrers)\./;

export interface RuleMatch {
  /** A glob over the repository name: `*` within a path component, `**` across them. */
  repository: string;
  /** A glob over the tag or digest (manifests), digest (blobs), or upload id. */
  reference?: string;
  /** Operations (manifest.get) or families of them (manifest, blob, upload). */
  operation?: string | string[];
  /** A digest, for requests that name it: blobs, manifests by digest, referrers. */
  digest?: string;
}

export interface RuleInput {
  match: RuleMatch;
  rules: string;
  /** The decorator that applies the rules string; `fault` by default. */
  decorator?: string;
}

export interface Rule extends Required<Pick<RuleInput, 'match' | 'rules' | 'decorator'>> {
  id: number;
  /** Requests this rule has matched since it was added or the last reset. */
  matched: number;
}

/** A rule that cannot be stored: the message says what is wrong. */
export class RuleError extends Error {
  override name = 'RuleError';
}

interface Compiled {
  rule: Rule;
  decorator: Decorator;
  repository: RegExp;
  reference?: RegExp;
  operations?: string[];
  digest?: string;
}

export class RuleSet {
  private compiled: Compiled[] = [];
  private nextId = 1;

  constructor(private readonly decorators: readonly Decorator[]) {}

  /** Validates and stores a rule; throws RuleError saying what is wrong. */
  add(input: unknown): Rule {
    if (this.compiled.length >= MAX_RULES) throw new RuleError(`there are already ${MAX_RULES} rules; delete some first`);
    const { match, rules, decorator } = parseInput(input);
    const impl = this.decorators.find((d) => d.name === decorator);
    if (!impl) {
      const known = this.decorators.map((d) => d.name);
      throw new RuleError(`no decorator "${decorator}" in this registry${known.length ? `; known: ${known.join(', ')}` : ''}`);
    }
    const problem = impl.validate?.(rules);
    if (problem !== undefined) throw new RuleError(`rules "${rules}": ${problem}`);
    const rule: Rule = { id: this.nextId++, match, rules, decorator, matched: 0 };
    const operations = match.operation === undefined ? undefined : typeof match.operation === 'string' ? [match.operation] : match.operation;
    this.compiled.push({
      rule,
      decorator: impl,
      repository: globPattern(match.repository),
      ...(match.reference === undefined ? {} : { reference: globPattern(match.reference) }),
      ...(operations === undefined ? {} : { operations }),
      ...(match.digest === undefined ? {} : { digest: match.digest }),
    });
    return { ...rule };
  }

  list(): Rule[] {
    return this.compiled.map((c) => ({ ...c.rule }));
  }

  /** Removes a rule; false when there is none with that id. */
  remove(id: number): boolean {
    const before = this.compiled.length;
    this.compiled = this.compiled.filter((c) => c.rule.id !== id);
    return this.compiled.length < before;
  }

  clear(): void {
    this.compiled = [];
  }

  /** Starts every rule's count again (the decorators' own counts are reset by their owner). */
  resetCounts(): void {
    for (const c of this.compiled) c.rule.matched = 0;
  }

  /**
   * Answers a request through the rules that match it, the oldest outermost, each calling the next
   * and the last calling answer; with no rule matching, answer alone. seen is told of each decorator.
   */
  serve(ctx: RequestContext, answer: Handler, seen: (decorator: Decorator) => void = () => undefined): Promise<void> {
    if (this.compiled.length === 0) return answer(ctx);
    const hits = this.compiled.filter((c) => matches(c, ctx.route));
    const run = (index: number, current: RequestContext): Promise<void> => {
      const hit = hits[index];
      if (!hit) return answer(current);
      hit.rule.matched++;
      seen(hit.decorator);
      current.note?.(`rule ${hit.rule.id} ${hit.rule.decorator}:${hit.rule.rules} (match ${hit.rule.matched})`);
      return hit.decorator.handle(current, hit.rule.rules, (inner) => run(index + 1, inner));
    };
    return run(0, ctx);
  }
}

function matches(c: Compiled, route: Route): boolean {
  if (!c.repository.test(route.name)) return false;
  if (c.reference && !c.reference.test(route.reference)) return false;
  if (c.operations && !c.operations.some((op) => operationMatches(op, route.operation))) return false;
  if (c.digest !== undefined && !(BY_DIGEST.test(route.operation) && route.reference === c.digest)) return false;
  return true;
}

/** Checks the shape of a rule as JSON or YAML gives it, saying exactly what is wrong. */
export function parseInput(input: unknown): Required<RuleInput> {
  if (!isRecord(input)) throw new RuleError('a rule is an object: {"match": {"repository": "<glob>"}, "rules": "<rules>"}');
  unknownKeys(input, ['match', 'rules', 'decorator'], 'a rule');
  const { match, rules, decorator = DEFAULT_DECORATOR } = input;
  if (!isRecord(match)) throw new RuleError('"match" must be an object with at least "repository"');
  unknownKeys(match, ['repository', 'reference', 'operation', 'digest'], '"match"');
  const repository = glob(match.repository, 'match.repository', true) as string;
  const reference = glob(match.reference, 'match.reference', false);
  const operation = operations(match.operation);
  const digest = match.digest;
  if (digest !== undefined && (typeof digest !== 'string' || !/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/.test(digest))) {
    throw new RuleError('"match.digest" must be a digest such as sha256:<64 hex>');
  }
  if (typeof rules !== 'string' || rules.length === 0 || rules.length > 1024) throw new RuleError('"rules" must be a non-empty string of at most 1024 characters');
  if (typeof decorator !== 'string' || decorator.length === 0) throw new RuleError('"decorator" must be the name of a decorator, e.g. fault');
  const out: RuleMatch = { repository };
  if (reference !== undefined) out.reference = reference;
  if (operation !== undefined) out.operation = operation;
  if (digest !== undefined) out.digest = digest as string;
  return { match: out, rules, decorator };
}

function glob(value: unknown, field: string, required: boolean): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string') throw new RuleError(`"${field}" must be a glob string${required ? ' (it is required; "**" matches every name)' : ''}`);
  if (value.length > MAX_GLOB_LENGTH) throw new RuleError(`"${field}" is longer than ${MAX_GLOB_LENGTH} characters`);
  return value;
}

function operations(value: unknown): string | string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) throw new RuleError('"match.operation" must be an operation or a non-empty list of them');
  for (const op of list) {
    if (typeof op !== 'string' || !(OPERATIONS.includes(op as Operation) || FAMILIES.has(op))) {
      throw new RuleError(`"match.operation": "${String(op)}" is not an operation; known: ${[...FAMILIES, ...OPERATIONS].join(', ')}`);
    }
  }
  return value as string | string[];
}

function unknownKeys(record: Record<string, unknown>, known: string[], what: string): void {
  const extra = Object.keys(record).filter((key) => !known.includes(key));
  if (extra.length > 0) throw new RuleError(`${what} has unknown field${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')}; known: ${known.join(', ')}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
