// The fault rules of broken/fault/<rules>/<repository>: one path component in the tag grammar
// (`key-value` pairs joined by `_`). The key table below is data: the parser, `serve --help` and the
// README table all come from it. Bad rules are a NAME_INVALID naming the key and listing the known ones.
import { RegistryError } from '../oci/errors.js';
import { parseTagParams, ParamError, type TagSpec, type ValueParser } from '../params/tag-params.js';
import { byteSize, duration, wholeNumber } from '../params/values.js';
import { formatDuration } from '../params/duration.js';

export const REQUEST_CLASSES = ['pull', 'push', 'manifest', 'blob', 'upload', 'tags', 'referrers', 'any'] as const;
export type RequestClass = (typeof REQUEST_CLASSES)[number];
export const METHODS = ['get', 'head', 'put', 'patch', 'post', 'delete'] as const;
export type Method = (typeof METHODS)[number];
export const ERROR_BODIES = ['json', 'html', 'text', 'empty'] as const;
export const CONTENT_TYPES = ['none', 'html', 'json', 'text', 'octet'] as const;
export const RANGE_MODES = ['ignore', 'wrongstart', 'nocr', '416'] as const;

/** A place in a body: a byte offset, or a share of the declared length. */
export type Position = { bytes: number } | { percent: number };

export type KeyGroup = 'which' | 'when' | 'what';

export interface FaultKey {
  readonly key: string;
  /** The value grammar, as shown in help: `<400..599>`, `<size|Npct>`. */
  readonly value: string;
  readonly group: KeyGroup;
  readonly summary: string;
  /** A whole rules component using the key. */
  readonly example: string;
  readonly parse: ValueParser<unknown>;
}

function oneOf<T extends string>(choices: readonly T[]): ValueParser<T> {
  return (text) => {
    if ((choices as readonly string[]).includes(text)) return text as T;
    throw new Error(`${JSON.stringify(text)} is not one of ${choices.join(', ')}`);
  };
}

const HOUR = 60 * 60 * 1000;

const position: ValueParser<Position> = (text) => {
  const pct = /^([0-9]+)pct$/.exec(text);
  if (pct) {
    const percent = Number(pct[1]);
    if (percent > 100) throw new Error(`${text} is more than 100pct`);
    return { percent };
  }
  return { bytes: byteSize()(text) };
};

const positiveSize: ValueParser<number> = (text) => {
  const bytes = byteSize()(text);
  if (bytes === 0) throw new Error('must be more than 0 bytes');
  return bytes;
};

const hexPrefix: ValueParser<string> = (text) => {
  if (!/^[0-9a-f]{1,64}$/.test(text)) throw new Error(`${JSON.stringify(text)} is not 1 to 64 lowercase hex digits`);
  return text;
};

const retry: ValueParser<number | 'none'> = (text) => (text === 'none' ? 'none' : wholeNumber({ max: 86_400 })(text));

/** Durations are checked against --max-timeout when a request arrives (see checkLimits). */
const wait = duration({ max: 24 * HOUR, limitName: '24h' });

export const FAULT_KEYS: readonly FaultKey[] = [
  // Which requests
  { key: 'on', value: `<${REQUEST_CLASSES.join('|')}>`, group: 'which', summary: 'the requests a rule applies to (default pull: manifest and blob GET/HEAD; push: manifest PUT and uploads)', example: 'on-blob_status-503', parse: oneOf(REQUEST_CLASSES) },
  { key: 'method', value: `<${METHODS.join('|')}>`, group: 'which', summary: 'only requests with this method', example: 'on-upload_method-patch_status-500', parse: oneOf(METHODS) },
  { key: 'digest', value: '<hex prefix>', group: 'which', summary: 'only the blob or manifest whose digest starts so; a manifest asked for by tag matches by the digest the tag resolves to', example: 'on-blob_digest-3f_close-50pct', parse: hexPrefix },
  // When
  { key: 'times', value: '<N>', group: 'when', summary: 'the first N matching requests fail, then they pass (counted per method and path)', example: 'on-blob_status-503_times-2', parse: wholeNumber({ min: 1 }) },
  { key: 'after', value: '<N>', group: 'when', summary: 'the first N matching requests pass, then the rule applies (with times-M: the next M fail, then all pass)', example: 'on-manifest_after-3_status-429', parse: wholeNumber() },
  { key: 'prob', value: '<percent>', group: 'when', summary: 'a matching request fails with this probability, 0 to 100', example: 'on-blob_prob-30_seed-7_status-500', parse: wholeNumber({ max: 100 }) },
  { key: 'seed', value: '<Z>', group: 'when', summary: 'makes prob and corrupt reproducible', example: 'on-blob_corrupt-4_seed-1', parse: wholeNumber() },
  // What happens
  { key: 'status', value: '<400..599>', group: 'what', summary: 'answer this status with its protocol headers (401 a challenge, 429/503 Retry-After: 1), in the OCI error envelope', example: 'on-blob_status-503_times-2', parse: wholeNumber({ min: 400, max: 599 }) },
  { key: 'body', value: `<${ERROR_BODIES.join('|')}>`, group: 'what', summary: 'the error body instead of the OCI envelope: {"message":...} JSON, an HTML page, plain text, or nothing', example: 'status-429_body-html', parse: oneOf(ERROR_BODIES) },
  { key: 'retry', value: '<seconds|none>', group: 'what', summary: 'Retry-After as delta-seconds, or absent', example: 'status-429_retry-2', parse: retry },
  { key: 'retrydate', value: '<seconds>', group: 'what', summary: 'Retry-After as an HTTP date that many seconds ahead', example: 'status-503_retrydate-5', parse: wholeNumber({ max: 86_400 }) },
  { key: 'challenge', value: '<none>', group: 'what', summary: 'a 401 without WWW-Authenticate', example: 'status-401_challenge-none', parse: oneOf(['none'] as const) },
  { key: 'delay', value: '<duration>', group: 'what', summary: 'wait this long before the status line', example: 'on-manifest_delay-3s', parse: wait },
  { key: 'rate', value: '<size>', group: 'what', summary: 'send (or, on uploads, read) the body at this many bytes per second', example: 'on-blob_rate-1m', parse: positiveSize },
  { key: 'stall', value: '<duration>', group: 'what', summary: 'stop sending the body for this long, at the offset given by at (default the start)', example: 'on-blob_stall-2s_at-1m', parse: wait },
  { key: 'at', value: '<size|Npct>', group: 'what', summary: 'where stall and drip begin in the body', example: 'on-blob_stall-30s_at-50pct', parse: position },
  { key: 'drip', value: '<size>', group: 'what', summary: 'send the body in pieces of this size, one every `every` (default 1s): slow progress that never stops', example: 'on-blob_drip-1k_every-1s', parse: positiveSize },
  { key: 'every', value: '<duration>', group: 'what', summary: 'the pause between drip pieces', example: 'on-blob_drip-16_every-500ms', parse: wait },
  { key: 'reset', value: '<size|Npct>', group: 'what', summary: 'TCP reset after this many body bytes (on uploads: request-body bytes)', example: 'on-blob_reset-50pct_times-1', parse: position },
  { key: 'close', value: '<size|Npct>', group: 'what', summary: 'close the connection cleanly after this many body bytes, Content-Length still the whole: a short body', example: 'on-blob_close-50pct_times-1', parse: position },
  { key: 'corrupt', value: '<N>', group: 'what', summary: 'change N bytes at positions chosen by the seed, length unchanged (a digest mismatch)', example: 'on-blob_corrupt-1', parse: wholeNumber({ min: 1, max: 1_000_000 }) },
  { key: 'digestheader', value: '<none|wrong>', group: 'what', summary: 'Docker-Content-Digest left out, or another digest', example: 'on-manifest_digestheader-wrong', parse: oneOf(['none', 'wrong'] as const) },
  { key: 'type', value: `<${CONTENT_TYPES.join('|')}>`, group: 'what', summary: 'Content-Type left out, or text/html, application/json, text/plain, application/octet-stream', example: 'on-manifest_type-html', parse: oneOf(CONTENT_TYPES) },
  { key: 'length', value: '<none>', group: 'what', summary: 'no Content-Length: the body is sent chunked', example: 'on-blob_length-none', parse: oneOf(['none'] as const) },
  { key: 'range', value: `<${RANGE_MODES.join('|')}>`, group: 'what', summary: 'a Range request answered 200 with the whole body, 206 from the wrong offset, 206 without Content-Range, or 416 when open-ended', example: 'on-blob_range-ignore', parse: oneOf(RANGE_MODES) },
];

export interface FaultRules {
  on: RequestClass;
  method?: Method;
  digest?: string;
  times?: number;
  after: number;
  prob?: number;
  seed?: number;
  status?: number;
  body?: (typeof ERROR_BODIES)[number];
  retry?: number | 'none';
  retrydate?: number;
  challenge?: 'none';
  delay?: number;
  rate?: number;
  stall?: number;
  at?: Position;
  drip?: number;
  every?: number;
  reset?: Position;
  close?: Position;
  corrupt?: number;
  digestheader?: 'none' | 'wrong';
  type?: (typeof CONTENT_TYPES)[number];
  length?: 'none';
  range?: (typeof RANGE_MODES)[number];
}

const SPEC: TagSpec = Object.fromEntries(FAULT_KEYS.map((k) => [k.key, { parse: k.parse, placeholder: k.value.slice(1, -1) }]));
const KNOWN = FAULT_KEYS.map((k) => k.key).join(', ');

/** Keys that need another key to mean anything. */
const NEEDS: readonly [string, string[], string][] = [
  ['body', ['status'], 'status'],
  ['retry', ['status'], 'status'],
  ['retrydate', ['status'], 'status'],
  ['challenge', ['status'], 'status-401'],
  ['at', ['stall', 'drip'], 'stall or drip'],
  ['every', ['drip'], 'drip'],
  ['seed', ['prob', 'corrupt'], 'prob or corrupt'],
];

/** Pairs that cannot both hold. */
const EXCLUSIVE: readonly [string, string][] = [
  ['retry', 'retrydate'],
  ['reset', 'close'],
  ['stall', 'drip'],
  ...['reset', 'close', 'corrupt', 'stall', 'drip', 'range', 'digestheader', 'length'].map((key): [string, string] => ['status', key]),
  ['range', 'reset'],
  ['range', 'close'],
  ['range', 'corrupt'],
];

/** The keys that change what is sent or received (a rule with none of them would do nothing). */
const ACTIONS = FAULT_KEYS.filter((k) => k.group === 'what' && !['body', 'retry', 'retrydate', 'challenge', 'at', 'every'].includes(k.key)).map((k) => k.key);

/** Keys that only act on a response body, which push requests do not get. */
const RESPONSE_BODY_KEYS = ['stall', 'drip', 'close', 'corrupt', 'range', 'length'];

/** Methods each request class can be asked with. */
export const CLASS_METHODS: Readonly<Record<RequestClass, readonly Method[]>> = {
  pull: ['get', 'head'],
  push: ['put', 'patch', 'post', 'get', 'delete'],
  manifest: ['get', 'head', 'put', 'delete'],
  blob: ['get', 'head', 'delete'],
  upload: ['post', 'patch', 'put', 'get', 'delete'],
  tags: ['get', 'head'],
  referrers: ['get', 'head'],
  any: METHODS,
};

export class RulesError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

/** Parses a rules component. Throws RulesError naming the key at fault. */
export function parseRules(text: string): FaultRules {
  let parsed: Record<string, unknown>;
  try {
    parsed = parseTagParams(text, SPEC) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof ParamError) {
      // The known keys are listed once, by rulesInvalid.
      throw new RulesError(error.param, error.problem === 'unknown' ? `unknown key ${JSON.stringify(error.param)}` : error.message);
    }
    throw error;
  }
  const has = (key: string) => parsed[key] !== undefined;
  if (!ACTIONS.some(has)) throw new RulesError('', `the rules name no fault: give one of ${ACTIONS.join(', ')}`);
  for (const [key, needs, what] of NEEDS) {
    if (has(key) && !needs.some(has)) throw new RulesError(key, `${key} needs ${what}`);
  }
  if (has('challenge') && parsed.status !== 401) throw new RulesError('challenge', 'challenge-none needs status-401');
  for (const [a, b] of EXCLUSIVE) {
    if (has(a) && has(b)) throw new RulesError(b, `${a} and ${b} contradict each other: give one`);
  }
  const on = (parsed.on as RequestClass | undefined) ?? 'pull';
  const method = parsed.method as Method | undefined;
  if (method && !CLASS_METHODS[on].includes(method)) {
    throw new RulesError('method', `on-${on} requests are never ${method.toUpperCase()} (they are ${CLASS_METHODS[on].join(', ')})`);
  }
  if (has('digest') && !['pull', 'manifest', 'blob', 'any'].includes(on)) {
    throw new RulesError('digest', `digest selects a blob or a manifest; on-${on} requests have none`);
  }
  const writesOnly = on === 'push' || on === 'upload' || (method !== undefined && ['put', 'patch', 'post'].includes(method));
  const bodyKey = RESPONSE_BODY_KEYS.find(has);
  if (writesOnly && bodyKey) {
    throw new RulesError(bodyKey, `${bodyKey} acts on response bodies, which ${method ? method.toUpperCase() : `on-${on}`} requests do not get; uploads take status, delay, rate and reset`);
  }
  return { ...parsed, on, after: (parsed.after as number | undefined) ?? 0 } as FaultRules;
}

/** The NAME_INVALID a bad rules component answers, naming the key and listing the known ones. */
export function rulesInvalid(rules: string, error: RulesError): RegistryError {
  return new RegistryError('NAME_INVALID', `broken/fault rules ${JSON.stringify(rules.slice(0, 200))}: ${error.message} (known keys: ${KNOWN})`, {
    detail: { rules: rules.slice(0, 200), key: error.key, known: FAULT_KEYS.map((k) => k.key) },
  });
}

/** Waits longer than --max-timeout are refused like bad rules. */
export function checkLimits(rules: FaultRules, maxWaitMs: number): RulesError | undefined {
  for (const key of ['delay', 'stall', 'every'] as const) {
    const ms = rules[key];
    if (ms !== undefined && ms > maxWaitMs) {
      return new RulesError(key, `${key} ${formatDuration(ms)} is longer than --max-timeout ${formatDuration(maxWaitMs)}`);
    }
  }
  return undefined;
}

/** The grammar in one line, for help text. */
export const RULES_GRAMMAR = 'broken/fault/<key-value>[_<key-value>...]/<repository>';
