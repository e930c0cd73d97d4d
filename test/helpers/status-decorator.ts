// A stand-in for broken/fault in tests of the run-time rules machinery: a decorator named `fault`
// whose rules `status-<N>[_times-<T>]` answer status N to the first T matching requests (every one
// without times), counted per rules string and request path, and then let requests through.
import { RegistryError } from '../../src/oci/errors.js';
import type { Decorator } from '../../src/scenarios/scenario.js';

const GRAMMAR = /^status-([1-5]\d\d)(?:_times-(\d+))?$/;

export function statusDecorator(): Decorator & { resets: number } {
  const counts = new Map<string, number>();
  return {
    name: 'fault',
    summary: 'test-only: answers a chosen status N times',
    example: 'broken/fault/status-503_times-2/broken/prepared:x',
    parameters: [],
    resets: 0,
    validate(rules) {
      return GRAMMAR.test(rules) ? undefined : 'expected status-<N>[_times-<T>]';
    },
    reset() {
      counts.clear();
      this.resets++;
    },
    async handle(ctx, rules, next) {
      const match = GRAMMAR.exec(rules);
      if (!match) throw new RegistryError('NAME_INVALID', `bad rules ${rules}`);
      const status = Number(match[1]);
      const times = match[2] === undefined ? Infinity : Number(match[2]);
      const key = `${rules} ${ctx.req.method} ${ctx.req.url}`;
      const seen = counts.get(key) ?? 0;
      counts.set(key, seen + 1);
      if (seen >= times) return next(ctx);
      ctx.note?.(`fault: status-${status} times ${seen + 1} of ${times === Infinity ? 'every' : times}`);
      throw RegistryError.custom(status, 'FAULT', `status-${status} by rule`);
    },
  };
}
