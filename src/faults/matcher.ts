// Which requests a rule set applies to, and when: the selection (on-, method-, digest-) and the
// schedule (after-, times-, prob- with seed-). Counts live in a Counters object owned by the decorator
// instance; the randomness for prob without a seed is injected.
import seedrandom from 'seedrandom';
import type { Operation, Route } from '../http/routes.js';
import type { FaultRules, RequestClass } from './rules.js';

const PULL: Operation[] = ['manifest.get', 'manifest.head', 'blob.get', 'blob.head'];
const UPLOAD: Operation[] = ['upload.start', 'upload.status', 'upload.patch', 'upload.finish', 'upload.cancel'];

const CLASS_OPERATIONS: Readonly<Record<Exclude<RequestClass, 'any'>, ReadonlySet<Operation>>> = {
  pull: new Set(PULL),
  push: new Set<Operation>(['manifest.put', ...UPLOAD]),
  manifest: new Set<Operation>(['manifest.get', 'manifest.head', 'manifest.put', 'manifest.delete']),
  blob: new Set<Operation>(['blob.get', 'blob.head', 'blob.delete']),
  upload: new Set(UPLOAD),
  tags: new Set<Operation>(['tags.list']),
  referrers: new Set<Operation>(['referrers.list']),
};

/** Whether a request is selected: yes, no, or only once the digest its tag resolves to is known. */
export type Selection = 'yes' | 'no' | 'by-digest';

export function selects(rules: FaultRules, route: Route, method: string): Selection {
  if (rules.on !== 'any' && !CLASS_OPERATIONS[rules.on].has(route.operation)) return 'no';
  if (rules.method !== undefined && rules.method !== method.toLowerCase()) return 'no';
  if (rules.digest === undefined) return 'yes';
  const { operation, reference } = route;
  if (!operation.startsWith('manifest.') && !operation.startsWith('blob.')) return 'no';
  // A tag's digest is known from the inner answer of a GET or HEAD; a PUT or DELETE by tag is not selected.
  if (!reference.includes(':')) return operation === 'manifest.get' || operation === 'manifest.head' ? 'by-digest' : 'no';
  return digestMatches(rules.digest, reference) ? 'yes' : 'no';
}

/** Whether a digest (`sha256:<hex>`) has the hex prefix. */
export function digestMatches(prefix: string, digest: string): boolean {
  const colon = digest.indexOf(':');
  return colon >= 0 && digest.startsWith(prefix, colon + 1);
}

/**
 * What a request counts as: its method and path, with an upload session's id left out, because a
 * client that retries a failed upload does so in a new session, and `times-N` must count across them.
 */
export function requestKey(route: Route, method: string): string {
  const { operation, name, reference } = route;
  if (operation.startsWith('upload.')) return `${method} /v2/${name}/blobs/uploads/`;
  const kind = operation.startsWith('manifest.') ? 'manifests' : operation.startsWith('blob.') ? 'blobs' : operation === 'tags.list' ? 'tags' : 'referrers';
  return `${method} /v2/${name}/${kind}/${reference}`;
}

/** The most request keys remembered per decorator; the oldest are forgotten first. */
const MAX_KEYS = 100_000;

/** Matching requests seen so far, per rule set and per request key. */
export class Counters {
  private readonly counts = new Map<string, number>();

  /** The index of this request among the matching ones (0 for the first), counting it. */
  take(rules: string, key: string): number {
    const id = `${rules}\n${key}`;
    const seen = this.counts.get(id) ?? 0;
    if (seen === 0 && this.counts.size >= MAX_KEYS) {
      const oldest = this.counts.keys().next().value;
      if (oldest !== undefined) this.counts.delete(oldest);
    }
    this.counts.set(id, seen + 1);
    return seen;
  }

  /** Forgets every count: each rule set starts again from its first matching request. */
  clear(): void {
    this.counts.clear();
  }
}

/**
 * Whether the index-th matching request (from 0) fails: after-A lets A pass, times-T fails the next T
 * and lets all later ones pass, prob-P fails each one in that window with probability P%. With a seed
 * the draw depends only on the seed, the request key and the index, so a rerun fails the same requests.
 */
export function scheduled(rules: FaultRules, index: number, key: string, random: () => number): boolean {
  if (index < rules.after) return false;
  if (rules.times !== undefined && index >= rules.after + rules.times) return false;
  if (rules.prob === undefined) return true;
  const draw = rules.seed === undefined ? random() : seedrandom(`${rules.seed}\n${key}\n${index}`)();
  return draw * 100 < rules.prob;
}
