// Token scopes (distribution's token spec): `repository:<name>:<action>[,<action>]`, several joined
// by spaces or sent as repeated `scope` parameters, and the access a request needs.
import type { Route } from '../http/routes.js';

export interface Access {
  /** `repository` or `registry` (for `registry:catalog:*`). */
  type: string;
  name: string;
  actions: string[];
}

/**
 * The scopes in some `scope` values. The name may hold ":" (a registry host with a port), so the
 * type ends at the first ":" and the actions start after the last one. Malformed scopes are skipped.
 */
export function parseScopes(values: readonly string[]): Access[] {
  const scopes: Access[] = [];
  for (const value of values) {
    for (const scope of value.split(' ')) {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first <= 0 || last === first) continue;
      const actions = scope.slice(last + 1).split(',').filter((action) => action !== '');
      const name = scope.slice(first + 1, last);
      if (name === '' || actions.length === 0) continue;
      scopes.push({ type: scope.slice(0, first), name, actions });
    }
  }
  return scopes;
}

export function formatScope(access: Access): string {
  return `${access.type}:${access.name}:${access.actions.join(',')}`;
}

/** What a request needs: nothing more than a valid token for /v2/, a scope for everything else. */
export function requiredAccess(route: Route): Access | undefined {
  switch (route.operation) {
    case 'base':
      return undefined;
    case 'catalog':
      return { type: 'registry', name: 'catalog', actions: ['*'] };
    case 'manifest.delete':
    case 'blob.delete':
      return { type: 'repository', name: route.name, actions: ['delete'] };
    case 'manifest.put':
    case 'upload.start':
    case 'upload.status':
    case 'upload.patch':
    case 'upload.finish':
    case 'upload.cancel':
      return { type: 'repository', name: route.name, actions: ['pull', 'push'] };
    default:
      return { type: 'repository', name: route.name, actions: ['pull'] };
  }
}

/** The scope a challenge names for an access: a push asks for pull and push, as distribution does. */
export function challengeScope(access: Access): string {
  return formatScope(access);
}

/** A granted set, by `type:name`, for quick checks on every request. */
export type Grants = ReadonlyMap<string, ReadonlySet<string>>;

export function grantsOf(access: readonly Access[]): Grants {
  const grants = new Map<string, Set<string>>();
  for (const { type, name, actions } of access) {
    const key = `${type}:${name}`;
    const set = grants.get(key) ?? new Set<string>();
    for (const action of actions) set.add(action);
    grants.set(key, set);
  }
  return grants;
}

/** True when every action asked for is granted (`*` grants them all). */
export function allows(grants: Grants, access: Access): boolean {
  const granted = grants.get(`${access.type}:${access.name}`);
  if (!granted) return false;
  return granted.has('*') || access.actions.every((action) => granted.has(action));
}
