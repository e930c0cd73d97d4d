// GET /v2/_catalog: the store's repositories, or N synthetic ones, optionally after a delay (the
// seed's V2_CATALOG_NUM_REPOS and V2_CATALOG_DELAY knobs).
import type { RequestContext } from '../http/context.js';
import { paginate, sendPage } from './discovery.js';

export interface CatalogOptions {
  delayMs: number;
  /** Synthetic repository names to answer with instead of the store's (built once, at start). */
  synthetic?: readonly string[];
}

export const MAX_SYNTHETIC_REPOS = 1_000_000;

/** Synthetic names sort in numeric order, so pagination with `last` works: synthetic/repo-0000001... */
export function syntheticRepositories(count: number): string[] {
  const width = String(MAX_SYNTHETIC_REPOS).length;
  return Array.from({ length: count }, (_, i) => `synthetic/repo-${String(i + 1).padStart(width, '0')}`);
}

export async function answerCatalog(ctx: RequestContext, options: CatalogOptions): Promise<void> {
  if (options.delayMs > 0) {
    try {
      await ctx.deps.clock.sleep(options.delayMs, ctx.signal);
    } catch {
      return; // the client went away while we waited
    }
  }
  const repositories =
    options.synthetic ?? (await ctx.deps.store.listRepositories());
  const page = paginate(repositories, ctx.query, '/v2/_catalog');
  await sendPage(ctx, { repositories: page.items }, page);
}
