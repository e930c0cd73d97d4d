// The scenarios the registry serves, listed explicitly, and the one rule that says which owns a name:
// `broken/<scenario>` (and, for nested scenarios, `broken/<scenario>/<path>`); every other name
// belongs to the pull-through proxy.
import { RegistryError } from '../oci/errors.js';
import type { Scenario } from './scenario.js';
import { preparedScenario } from './prepared.js';
import { errorScenario } from './error.js';
import { timeoutScenario } from './timeout.js';
import { createRandomScenario } from './random.js';

export const NAMESPACE = 'broken';

export interface ScenarioTable {
  scenarios: readonly Scenario[];
  /** The scenario for names outside `broken/`, once the proxy exists. */
  proxy?: Scenario;
}

export function defaultScenarios(): ScenarioTable {
  // A fresh table per app: scenarios with state (random's generations in flight) are not shared.
  return { scenarios: [errorScenario, timeoutScenario, createRandomScenario(), preparedScenario] };
}

export function resolveScenario(table: ScenarioTable, name: string): Scenario {
  const [root, key, ...rest] = name.split('/');
  if (root !== NAMESPACE) {
    if (table.proxy) return table.proxy;
    throw new RegistryError(
      'NAME_UNKNOWN',
      `repository "${name}" is not served here: pull and push under broken/prepared, or use a broken/<scenario> repository`,
      { detail: { name, scenarios: table.scenarios.map((s) => `${NAMESPACE}/${s.name}`) } },
    );
  }
  const scenario = table.scenarios.find((s) => s.name === key);
  if (!scenario || (rest.length > 0 && !scenario.nested)) {
    throw new RegistryError(
      'NAME_UNKNOWN',
      `"${name}" is not a scenario; known: ${table.scenarios.map((s) => `${NAMESPACE}/${s.name}`).join(', ')}`,
      { detail: { name } },
    );
  }
  return scenario;
}
