// The one interface every scenario implements. Metadata is data, so help text and the README table
// come from the same place as the behaviour.
import type { Handler, RequestContext } from '../http/context.js';
import type { Operation } from '../http/routes.js';
import type { Endpoint } from '../http/endpoint.js';

export interface ParameterDoc {
  name: string;
  description: string;
  example: string;
}

export type RepositoryOperation = Exclude<Operation, 'base' | 'catalog'>;

export interface Scenario {
  /** The name in logs and help, and the `broken/<name>` repository it owns (unless it is the proxy). */
  readonly name: string;
  readonly summary: string;
  /** The example tag a user would pull, shown in help text. */
  readonly example: string;
  readonly parameters: readonly ParameterDoc[];
  /** Whether repositories below `broken/<name>/` belong to it too. */
  readonly nested: boolean;
  readonly operations: Partial<Record<RepositoryOperation, Handler>>;
  /** Why an operation the scenario does not offer is refused (e.g. where pushes go). */
  unsupported?(operation: RepositoryOperation, name: string): string;
}

/**
 * A scenario that wraps another: `broken/<name>/<rules>/<repository>` answers every request for
 * <repository> (any name this registry serves, decorated ones included) through handle, which calls
 * next with the same context or one whose body or respond it wrapped (http/context.ts withContext).
 * next serves the inner name; Location headers of the inner answers keep the outer name, so a client
 * that follows them stays under the decorator.
 */
export interface Decorator {
  readonly name: string;
  readonly summary: string;
  readonly example: string;
  readonly parameters: readonly ParameterDoc[];
  /** Paths outside /v2/ it answers (broken/auth's token realm), before the registry routes. */
  readonly endpoints?: readonly Endpoint[];
  /**
   * It challenges for credentials itself, with its token realm at realm(rules, origin) (a URL):
   * serve --auth leaves the names it wraps alone, and /token sends their token requests there.
   */
  readonly realm?: (rules: string, origin: string) => string;
  /** Stops what it started (a listener of its own). */
  close?(): Promise<void>;
  handle(ctx: RequestContext, rules: string, next: (inner: RequestContext) => Promise<void>): Promise<void>;
  /**
   * What is wrong with a rules string, or undefined when it is good: run-time rules
   * (POST /_broken/rules) are refused with this message before they are stored.
   */
  validate?(rules: string): string | undefined;
  /** Forgets what the decorator counted (times-N), for POST /_broken/reset. */
  reset?(): void;
}
