// broken/auth's rules, as data: one table of keys (grammar, summary, example) that parses the rules
// of a name (`<rule>_<rule>...`, each `<key>` or `<key>-<value>`) and feeds --help and the README.
import { RegistryError } from '../oci/errors.js';
import { duration, wholeNumber } from '../params/values.js';

export interface AuthQuirks {
  /** How the realm fails a POST (GET still works): clients must fall back to GET. */
  post?: '404html' | '403' | '500' | 'json';
  getOnly: boolean;
  field: 'both' | 'token' | 'access_token';
  jsonBad: boolean;
  realmDelayMs: number;
  realmDown: boolean;
  realm503: boolean;
  scope: 'exact' | 'omit' | 'empty' | 'placeholder' | 'multi';
  basic: boolean;
  insufficientBlob: boolean;
  ttlMs: number;
  revokeAfter?: number;
  expiryLie: boolean;
  noChallenge: boolean;
}

export const DEFAULT_AUTH_TTL_MS = 300_000;
/** What `expiry-lie` announces as `expires_in`. */
export const LIED_TTL_MS = 3_600_000;
const HOUR_MS = 3_600_000;
const realmDelay = duration({ max: 10 * 60_000 });
const tokenTtl = duration({ min: 1, max: 24 * HOUR_MS });
const requestCount = wholeNumber({ min: 1, max: 999_999 });

export interface AuthRule {
  key: string;
  grammar: string;
  summary: string;
  example: string;
  /** Sets the rule's quirk from its value ('' for a bare key); throws an Error saying what is wrong. */
  apply(value: string, quirks: AuthQuirks): void;
}

const flag = (set: (quirks: AuthQuirks) => void) => (value: string, quirks: AuthQuirks) => {
  if (value !== '') throw new Error('takes no value');
  set(quirks);
};

function oneOf<T extends string>(choices: readonly T[], value: string): T {
  if (!(choices as readonly string[]).includes(value)) throw new Error(`must be one of ${choices.join(', ')}, got "${value}"`);
  return value as T;
}

export const AUTH_RULES: readonly AuthRule[] = [
  { key: 'default', grammar: 'default', summary: 'no quirk: a correct token flow (challenge, realm, 5-minute tokens)', example: 'default', apply: flag(() => undefined) },
  {
    key: 'post', grammar: 'post-<404html|403|500|json>', summary: 'the realm fails a POST that way (an HTML 404 page, 403, 500, a JSON error); GET works, so clients must fall back', example: 'post-404html',
    apply: (value, q) => void (q.post = oneOf(['404html', '403', '500', 'json'] as const, value)),
  },
  { key: 'getonly', grammar: 'getonly', summary: 'the realm answers a POST with 405, Allow: GET', example: 'getonly', apply: flag((q) => void (q.getOnly = true)) },
  {
    key: 'field', grammar: 'field-<token|access_token|both>', summary: 'which field of the realm\'s JSON carries the token (default both)', example: 'field-token',
    apply: (value, q) => void (q.field = oneOf(['token', 'access_token', 'both'] as const, value)),
  },
  { key: 'json-bad', grammar: 'json-bad', summary: 'the realm answers 200 with malformed JSON', example: 'json-bad', apply: flag((q) => void (q.jsonBad = true)) },
  {
    key: 'realm-delay', grammar: 'realm-delay-<duration>', summary: 'the realm waits this long before answering (at most 10m)', example: 'realm-delay-3s',
    apply: (value, q) => void (q.realmDelayMs = realmDelay(value)),
  },
  { key: 'realm-down', grammar: 'realm-down', summary: 'the challenge names a realm on a port where nothing listens (connection refused)', example: 'realm-down', apply: flag((q) => void (q.realmDown = true)) },
  { key: 'realm-503', grammar: 'realm-503', summary: 'the realm answers 503 with Retry-After: 1', example: 'realm-503', apply: flag((q) => void (q.realm503 = true)) },
  {
    key: 'scope', grammar: 'scope-<omit|empty|placeholder|multi>', summary: 'the challenge\'s scope: left out, empty, a constant placeholder (repository:user/image:pull), or two scopes joined by a space; with the first three any token of this realm is accepted', example: 'scope-omit',
    apply: (value, q) => void (q.scope = oneOf(['omit', 'empty', 'placeholder', 'multi'] as const, value)),
  },
  { key: 'basic', grammar: 'basic', summary: 'a Basic challenge instead of Bearer: broken/broken credentials on every request', example: 'basic', apply: flag((q) => void (q.basic = true)) },
  {
    key: 'insufficient-blob', grammar: 'insufficient-blob', summary: 'blob requests answer 401 error="insufficient_scope" to tokens issued before the first blob request: the client must get a new token and retry', example: 'insufficient-blob',
    apply: flag((q) => void (q.insufficientBlob = true)),
  },
  {
    key: 'ttl', grammar: 'ttl-<duration>', summary: 'tokens really expire after this long (default 5m), mid-pull if the pull is slow; expires_in says so (clients may round it up to 60 s)', example: 'ttl-5s',
    apply: (value, q) => void (q.ttlMs = tokenTtl(value)),
  },
  {
    key: 'revoke-after', grammar: 'revoke-after-<N>', summary: 'a token is refused after N requests made with it', example: 'revoke-after-3',
    apply: (value, q) => void (q.revokeAfter = requestCount(value)),
  },
  { key: 'expiry-lie', grammar: 'expiry-lie', summary: 'expires_in says 3600 whatever the tokens\' real lifetime (ttl-)', example: 'expiry-lie', apply: flag((q) => void (q.expiryLie = true)) },
  { key: 'nochallenge', grammar: 'nochallenge', summary: 'the 401 for an expired or revoked token carries no WWW-Authenticate, as Docker Hub\'s hardened images did', example: 'nochallenge', apply: flag((q) => void (q.noChallenge = true)) },
];

function defaults(): AuthQuirks {
  return { getOnly: false, field: 'both', jsonBad: false, realmDelayMs: 0, realmDown: false, realm503: false, scope: 'exact', basic: false, insufficientBlob: false, ttlMs: DEFAULT_AUTH_TTL_MS, expiryLie: false, noChallenge: false };
}

/** The rule a word names: the longest key it is, or starts with followed by "-". */
function ruleFor(word: string): { rule: AuthRule; value: string } | undefined {
  let found: { rule: AuthRule; value: string } | undefined;
  for (const rule of AUTH_RULES) {
    const matches = word === rule.key || word.startsWith(`${rule.key}-`);
    if (matches && (!found || rule.key.length > found.rule.key.length)) found = { rule, value: word.slice(rule.key.length + 1) };
  }
  return found;
}

/**
 * Parses `<rule>_<rule>...`; a bad rule is a 400 NAME_INVALID naming it and listing the known keys.
 * A piece that starts no rule continues the value before it, when that makes a valid value
 * (`field-access_token`: names cannot hold another separator).
 */
export function parseAuthRules(rules: string): AuthQuirks {
  const words: { rule: AuthRule; value: string }[] = [];
  for (const piece of rules.split('_')) {
    const found = ruleFor(piece);
    const previous = words.at(-1);
    if (!found && previous && valid(previous.rule, `${previous.value}_${piece}`)) {
      previous.value = `${previous.value}_${piece}`;
      continue;
    }
    if (!found) throw invalid(rules, `unknown rule "${piece.slice(0, 60)}"`);
    words.push(found);
  }
  const quirks = defaults();
  const seen = new Set<string>();
  for (const { rule, value } of words) {
    if (seen.has(rule.key)) throw invalid(rules, `"${rule.key}" is given twice`);
    seen.add(rule.key);
    try {
      rule.apply(value, quirks);
    } catch (error) {
      throw invalid(rules, `${rule.grammar}: ${(error as Error).message}`);
    }
  }
  return quirks;
}

function valid(rule: AuthRule, value: string): boolean {
  try {
    rule.apply(value, defaults());
    return true;
  } catch {
    return false;
  }
}

function invalid(rules: string, why: string): RegistryError {
  const known = AUTH_RULES.map((rule) => rule.grammar);
  return new RegistryError('NAME_INVALID', `broken/auth rules "${rules.slice(0, 100)}": ${why}; known: ${known.join(', ')}`, { detail: { rules: rules.slice(0, 200), known } });
}
