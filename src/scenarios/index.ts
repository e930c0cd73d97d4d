// The scenarios the registry serves, listed explicitly, and the one rule that says which owns a name:
// `broken/<scenario>` (and, for nested scenarios, `broken/<scenario>/<path>`);
// `broken/<decorator>/<rules>/<name>` is <name> answered through that decorator; every other name
// belongs to the pull-through proxy.
import { RegistryError } from '../oci/errors.js';
import { requireName } from '../oci/reference.js';
import { withContext, type Destination, type RequestContext } from '../http/context.js';
import type { ResponsePlan } from '../http/response.js';
import type { Decorator, RepositoryOperation, Scenario } from './scenario.js';
import { preparedScenario } from './prepared.js';
import { errorScenario } from './error.js';
import { timeoutScenario } from './timeout.js';
import { createRandomScenario } from './random.js';
import { createMalformedScenario } from './malformed.js';
import { createAuthDecorator } from './auth.js';
import { createRedirectDecorator } from './redirect.js';
import { createFaultDecorator } from '../faults/decorator.js';

export const NAMESPACE = 'broken';

export interface ScenarioTable {
  scenarios: readonly Scenario[];
  /** Scenarios that wrap another name: `broken/<name>/<rules>/<repository>`. */
  decorators?: readonly Decorator[];
  /** The scenario for names outside `broken/`, once the proxy exists. */
  proxy?: Scenario;
}

export function defaultScenarios(): ScenarioTable {
  // A fresh table per app: scenarios with state (random's generations in flight) are not shared.
  return {
    scenarios: [errorScenario, timeoutScenario, createRandomScenario(), createMalformedScenario(), preparedScenario],
    decorators: [createFaultDecorator(), createAuthDecorator(), createRedirectDecorator()],
  };
}

export function resolveScenario(table: ScenarioTable, name: string): Scenario {
  const { key, end } = scenarioKey(name);
  if (key === undefined) {
    if (table.proxy) return table.proxy;
    throw new RegistryError(
      'NAME_UNKNOWN',
      `repository "${name}" is not served here: pull and push under broken/prepared, or use a broken/<scenario> repository`,
      { detail: { name, scenarios: table.scenarios.map((s) => `${NAMESPACE}/${s.name}`) } },
    );
  }
  const scenario = table.scenarios.find((s) => s.name === key);
  if (!scenario || (end < name.length && !scenario.nested)) {
    throw new RegistryError(
      'NAME_UNKNOWN',
      `"${name}" is not a scenario; known: ${knownNames(table).join(', ')}`,
      { detail: { name } },
    );
  }
  return scenario;
}

const PREFIX = `${NAMESPACE}/`;

/**
 * The second component of a `broken/<key>[/...]` name and where it ends; no key for names outside
 * broken/. Found by position, not by splitting: this runs once or more on every repository request.
 */
function scenarioKey(name: string): { key?: string; end: number } {
  if (name === NAMESPACE) return { key: '', end: name.length };
  if (!name.startsWith(PREFIX)) return { end: 0 };
  const slash = name.indexOf('/', PREFIX.length);
  const end = slash < 0 ? name.length : slash;
  return { key: name.slice(PREFIX.length, end), end };
}

function knownNames(table: ScenarioTable): string[] {
  return [...table.scenarios.map((s) => `${NAMESPACE}/${s.name}`), ...(table.decorators ?? []).map((d) => `${NAMESPACE}/${d.name}/<rules>/<repository>`)];
}

/** The decorator a name asks for, with its rules and the inner name; undefined for any other name. */
export function decoratedName(table: ScenarioTable, name: string): { decorator: Decorator; rules: string; inner: string } | undefined {
  const { key, end } = scenarioKey(name);
  if (key === undefined) return undefined;
  const decorator = table.decorators?.find((d) => d.name === key);
  if (!decorator) return undefined;
  const rulesEnd = end < name.length ? name.indexOf('/', end + 1) : -1;
  if (rulesEnd < 0) {
    throw new RegistryError('NAME_INVALID', `${NAMESPACE}/${decorator.name} wraps another repository: ${NAMESPACE}/${decorator.name}/<rules>/<repository>, e.g. ${decorator.example}`, {
      detail: { name },
    });
  }
  return { decorator, rules: name.slice(end + 1, rulesEnd), inner: name.slice(rulesEnd + 1) };
}

/** The decorator that challenges for itself (broken/auth) around the name, at any depth, with its rules. */
export function selfAuthenticated(table: ScenarioTable, name: string): { decorator: Decorator; rules: string } | undefined {
  for (let current = name, depth = 0; depth < 32; depth++) {
    let decorated: ReturnType<typeof decoratedName>;
    try {
      decorated = decoratedName(table, current);
    } catch {
      return undefined;
    }
    if (!decorated) return undefined;
    if (decorated.decorator.realm) return { decorator: decorated.decorator, rules: decorated.rules };
    current = decorated.inner;
  }
  return undefined;
}

/** Operations that change the store: outside a pushable scenario they are refused with DENIED. */
const WRITES: ReadonlySet<RepositoryOperation> = new Set([
  'manifest.put',
  'manifest.delete',
  'blob.delete',
  'upload.start',
  'upload.status',
  'upload.patch',
  'upload.finish',
  'upload.cancel',
]);

/**
 * Answers a repository request with the scenario that owns its name. Decorating scenarios (faults,
 * auth) call this again with the inner name; seen(scenario) is told of each scenario on the way.
 */
export function serveRepository(
  table: ScenarioTable,
  ctx: RequestContext,
  seen: (scenario: Scenario | Decorator) => void = () => undefined,
): Promise<void> {
  return serveName(table, ctx, requireName(ctx.route.name), seen);
}

/**
 * serveRepository for a name already checked: an inner name is the rest of a valid name after a
 * path component, so it is valid too and not checked again on every level.
 */
function serveName(table: ScenarioTable, ctx: RequestContext, name: string, seen: (scenario: Scenario | Decorator) => void): Promise<void> {
  const operation = ctx.route.operation as RepositoryOperation;
  const decorated = decoratedName(table, name);
  if (decorated) {
    seen(decorated.decorator);
    return decorated.decorator.handle(ctx, decorated.rules, (inner) => serveName(table, innerContext(inner, name, decorated.inner), decorated.inner, seen));
  }
  const scenario = resolveScenario(table, name);
  seen(scenario);
  const handler = scenario.operations[operation];
  if (!handler) {
    const reason = scenario.unsupported?.(operation, name);
    if (WRITES.has(operation)) {
      throw new RegistryError('DENIED', reason ?? `${name} is read-only: pushes go to broken/prepared or broken/prepared/<path>`);
    }
    throw new RegistryError('UNSUPPORTED', reason ?? `${operation} is not supported by the ${scenario.name} scenario`);
  }
  return handler(ctx);
}

/** The context for the inner name: its route names the inner repository, its Locations the outer one. */
function innerContext(ctx: RequestContext, outer: string, inner: string): RequestContext {
  return withContext(ctx, {
    route: { ...ctx.route, name: inner },
    respond: (plan: ResponsePlan, destination?: Destination) => {
      const location = plan.headers.Location;
      if (typeof location !== 'string') return ctx.respond(plan, destination);
      const from = `/v2/${inner}/`;
      if (!location.startsWith(from)) return ctx.respond(plan, destination);
      return ctx.respond({ ...plan, headers: { ...plan.headers, Location: `/v2/${outer}/${location.slice(from.length)}` } }, destination);
    },
  });
}
