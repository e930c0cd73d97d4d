// Code-point order, so output does not depend on the locale.
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The upstream a repository's metadata names (a proxied repository), or null. */
export function upstreamOf(meta: Record<string, unknown>): string | null {
  return typeof meta.upstream === 'string' && meta.upstream !== '' ? meta.upstream : null;
}
