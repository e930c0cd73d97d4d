// broken/redirect's rules, as data: one table (key, grammar, summary, example) that parses the rules of
// a name (`<rule>_<rule>...`) and feeds --help and the README.
import { RegistryError } from '../oci/errors.js';
import { parseDuration } from '../params/duration.js';

export interface RedirectQuirks {
  code: 301 | 302 | 303 | 307 | 308;
  authReject: boolean;
  authRequire: boolean;
  head403: boolean;
  expireMs?: number;
  once: boolean;
  hops: number;
  loop: boolean;
  /** Redirect to the other loopback name (localhost for 127.0.0.1 and back): another host, not only another port. */
  otherHost: boolean;
  /** The origin speaks plain HTTP even when the registry serves TLS: an https → http redirect. */
  plainHttp: boolean;
}

export interface RedirectRule {
  key: string;
  grammar: string;
  summary: string;
  example: string;
  apply(value: string, quirks: RedirectQuirks): void;
}

const flag = (set: (quirks: RedirectQuirks) => void) => (value: string, quirks: RedirectQuirks) => {
  if (value !== '') throw new Error('takes no value');
  set(quirks);
};

export const REDIRECT_RULES: readonly RedirectRule[] = [
  { key: 'default', grammar: 'default', summary: 'a 307 to the storage origin, which serves the bytes (Range too) to anyone', example: 'default', apply: flag(() => undefined) },
  {
    key: 'code', grammar: 'code-<301|302|303|307|308>', summary: 'the redirect status (default 307)', example: 'code-302',
    apply: (value, q) => {
      if (!['301', '302', '303', '307', '308'].includes(value)) throw new Error(`must be 301, 302, 303, 307 or 308, got "${value}"`);
      q.code = Number(value) as RedirectQuirks['code'];
    },
  },
  { key: 'auth-reject', grammar: 'auth-reject', summary: 'the origin answers any request carrying Authorization with an S3-style 400 XML error, as S3 does', example: 'auth-reject', apply: flag((q) => void (q.authReject = true)) },
  { key: 'auth-require', grammar: 'auth-require', summary: 'the origin answers 403 to requests without Authorization', example: 'auth-require', apply: flag((q) => void (q.authRequire = true)) },
  { key: 'head-403', grammar: 'head-403', summary: 'the origin answers HEAD with 403 (a URL signed for GET only)', example: 'head-403', apply: flag((q) => void (q.head403 = true)) },
  {
    key: 'expire', grammar: 'expire-<duration>', summary: 'a URL stops working after this long (403 Request has expired): a good client asks the registry again', example: 'expire-5s',
    apply: (value, q) => {
      const ms = parseDuration(value);
      if (ms <= 0 || ms > 24 * 3600_000) throw new Error(`${value} is out of range`);
      q.expireMs = ms;
    },
  },
  { key: 'once', grammar: 'once', summary: 'a URL works for one request only', example: 'once', apply: flag((q) => void (q.once = true)) },
  {
    key: 'hops', grammar: 'hops-<N>', summary: 'the origin redirects N more times (on itself) before it serves the bytes', example: 'hops-3',
    apply: (value, q) => {
      if (!/^[0-9]{1,2}$/.test(value)) throw new Error(`"${value}" is not a whole number from 0 to 99`);
      q.hops = Number(value);
    },
  },
  { key: 'host-other', grammar: 'host-other', summary: 'the origin is named by the other loopback name (localhost for 127.0.0.1, and back): another host, not only another port, so clients drop Authorization', example: 'host-other', apply: flag((q) => void (q.otherHost = true)) },
  { key: 'scheme-http', grammar: 'scheme-http', summary: 'the origin speaks plain HTTP under a TLS registry: an https → http redirect (without it the origin speaks the registry\'s scheme, with its certificate)', example: 'scheme-http', apply: flag((q) => void (q.plainHttp = true)) },
  { key: 'loop', grammar: 'loop', summary: 'the origin redirects to itself forever', example: 'loop', apply: flag((q) => void (q.loop = true)) },
];

function defaults(): RedirectQuirks {
  return { code: 307, authReject: false, authRequire: false, head403: false, once: false, hops: 0, loop: false, otherHost: false, plainHttp: false };
}

/** Parses `<rule>_<rule>...`; a bad rule is a 400 NAME_INVALID naming it and listing the known keys. */
export function parseRedirectRules(rules: string): RedirectQuirks {
  const quirks = defaults();
  const seen = new Set<string>();
  for (const word of rules.split('_')) {
    let found: { rule: RedirectRule; value: string } | undefined;
    for (const rule of REDIRECT_RULES) {
      if ((word === rule.key || word.startsWith(`${rule.key}-`)) && (!found || rule.key.length > found.rule.key.length)) found = { rule, value: word.slice(rule.key.length + 1) };
    }
    if (!found) throw invalid(rules, `unknown rule "${word.slice(0, 60)}"`);
    if (seen.has(found.rule.key)) throw invalid(rules, `"${found.rule.key}" is given twice`);
    seen.add(found.rule.key);
    try {
      found.rule.apply(found.value, quirks);
    } catch (error) {
      throw invalid(rules, `${found.rule.grammar}: ${(error as Error).message}`);
    }
  }
  return quirks;
}

function invalid(rules: string, why: string): RegistryError {
  const known = REDIRECT_RULES.map((rule) => rule.grammar);
  return new RegistryError('NAME_INVALID', `broken/redirect rules "${rules.slice(0, 100)}": ${why}; known: ${known.join(', ')}`, { detail: { rules: rules.slice(0, 200), known } });
}
