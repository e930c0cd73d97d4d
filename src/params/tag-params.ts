// The tag grammar for scenario parameters: `key-value` pairs joined by `_`, in any order.
//
//   layers-3_size-1024_seed-7      { layers: 3, size: 1024, seed: 7 }
//   dur--1s                        { dur: "-1s" }: the key ends at the first "-", the value may hold more
//
// A spec lists the keys a scenario accepts, which are required, a parser per key, and the defaults it
// declares; nothing else is filled in. Every error is a ParamError naming the parameter.

/** Turns a value's text into a value; throws an Error whose message says what is wrong with it. */
export type ValueParser<T> = (text: string) => T;

interface ParamDoc {
  /** What the value stands for in the grammar shown in messages: `layers-<placeholder>`. */
  readonly placeholder?: string;
  readonly description?: string;
}

export interface RequiredParam<T> extends ParamDoc {
  readonly required: true;
  readonly parse: ValueParser<T>;
}

export interface OptionalParam<T> extends ParamDoc {
  readonly required?: false;
  readonly parse: ValueParser<T>;
  /** The value when the tag leaves the key out; without one the key is simply absent (undefined). */
  readonly default?: T;
}

export type ParamSpec<T> = RequiredParam<T> | OptionalParam<T>;

export type TagSpec = { readonly [key: string]: ParamSpec<unknown> };

/** The parsed object: required and defaulted keys are always there, other optional keys may be undefined. */
export type TagParams<S extends TagSpec> = {
  -readonly [K in keyof S]: S[K] extends RequiredParam<infer T>
    ? T
    : S[K] extends { readonly default: infer D }
      ? Exclude<D, undefined> | ParsedOf<S[K]>
      : ParsedOf<S[K]> | undefined;
};

type ParsedOf<P> = P extends { readonly parse: ValueParser<infer T> } ? T : never;

export type ParamProblem = 'malformed' | 'unknown' | 'duplicate' | 'invalid' | 'missing';

export class ParamError extends Error {
  /** The parameter at fault (the whole segment when it has no key). */
  readonly param: string;
  readonly problem: ParamProblem;

  constructor(param: string, problem: ParamProblem, message: string) {
    super(message);
    this.name = 'ParamError';
    this.param = param;
    this.problem = problem;
  }
}

/** Parses a tag against a spec. Throws ParamError on the first problem found, left to right. */
export function parseTagParams<S extends TagSpec>(tag: string, spec: S): TagParams<S> {
  const keys = Object.keys(spec);
  const found = new Map<string, unknown>();
  const segments = tag === '' ? [] : tag.split('_');
  for (const segment of segments) {
    const dash = segment.indexOf('-');
    if (segment === '') {
      throw new ParamError('', 'malformed', `empty parameter in ${quote(tag)}: ${grammarHint(spec)}`);
    }
    if (dash < 0) {
      const known = keys.find((key) => segment.startsWith(key));
      const example = known ? ` (${known}-${segment.slice(known.length) || '...'}?)` : '';
      throw new ParamError(segment, 'malformed', `parameter ${quote(segment)} has no value${example}: ${grammarHint(spec)}`);
    }
    if (dash === 0) {
      throw new ParamError(segment, 'malformed', `parameter ${quote(segment)} has no key: ${grammarHint(spec)}`);
    }
    const key = segment.slice(0, dash);
    const text = segment.slice(dash + 1);
    const param = Object.hasOwn(spec, key) ? spec[key] : undefined;
    if (!param) {
      const known = keys.length ? `known: ${keys.join(', ')}` : 'it takes none';
      throw new ParamError(key, 'unknown', `unknown parameter ${quote(key)} (${known})`);
    }
    if (found.has(key)) throw new ParamError(key, 'duplicate', `parameter ${quote(key)} is given more than once`);
    if (text === '') throw new ParamError(key, 'invalid', `parameter ${quote(key)} has an empty value`);
    try {
      found.set(key, param.parse(text));
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      throw new ParamError(key, 'invalid', `bad value for parameter ${quote(key)}: ${why}`);
    }
  }

  const missing = keys.filter((key) => spec[key]?.required && !found.has(key));
  const first = missing[0];
  if (first !== undefined) {
    const names = missing.map(quote).join(' and ');
    throw new ParamError(first, 'missing', `missing parameter${missing.length > 1 ? 's' : ''} ${names}: ${grammarHint(spec)}`);
  }
  const result: Record<string, unknown> = {};
  for (const key of keys) {
    const param = spec[key];
    if (found.has(key)) result[key] = found.get(key);
    else if (param && !param.required && param.default !== undefined) result[key] = param.default;
  }
  return result as TagParams<S>;
}

/** The grammar a spec accepts, for messages and help: `layers-<X>_size-<Y>[_seed-<Z>]`. */
export function describeTagSpec(spec: TagSpec): string {
  const parts = Object.entries(spec).map(([key, param]) => ({
    text: `${key}-<${param.placeholder ?? key}>`,
    required: param.required === true,
  }));
  const required = parts.filter((p) => p.required).map((p) => p.text);
  const optional = parts.filter((p) => !p.required).map((p) => p.text);
  if (required.length === 0) return optional.map((p) => `[${p}]`).join('_');
  return required.join('_') + optional.map((p) => `[_${p}]`).join('');
}

function grammarHint(spec: TagSpec): string {
  return `expected ${describeTagSpec(spec)}`;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text);
}
