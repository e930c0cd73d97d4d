// Content discovery: tags/list, _catalog (both paginated with n/last and a Link header) and referrers.
import { RegistryError } from '../oci/errors.js';
import { requireDigest } from '../oci/reference.js';
import { MediaType } from '../oci/media-types.js';
import type { Handler, RequestContext } from '../http/context.js';
import { jsonPlan } from '../http/response.js';

export interface Page {
  items: string[];
  /** The Link header for the next page, when there is one. */
  link?: string;
}

/** Applies `n` and `last` to a sorted list, as the distribution spec describes. */
export function paginate(sorted: readonly string[], query: URLSearchParams, path: string): Page {
  const last = query.get('last');
  const nText = query.get('n');
  let items = last ? sorted.filter((item) => item > last) : [...sorted];
  if (nText === null) return { items };
  if (!/^\d+$/.test(nText)) {
    throw new RegistryError('PAGINATION_NUMBER_INVALID', `n must be a non-negative whole number, got "${nText.slice(0, 50)}"`);
  }
  const n = Number(nText);
  const more = items.length > n;
  items = items.slice(0, n);
  const lastItem = items[items.length - 1];
  if (!more || lastItem === undefined) return { items };
  return { items, link: `<${path}?n=${n}&last=${encodeURIComponent(lastItem)}>; rel="next"` };
}

export function sendPage(ctx: RequestContext, body: Record<string, unknown>, page: Page): Promise<void> {
  return ctx.respond(jsonPlan(200, body, page.link ? { Link: page.link } : {}));
}

export const listTags: Handler = async (ctx) => {
  const { name } = ctx.route;
  const tags = await ctx.deps.store.listTags(name);
  if (!tags) throw new RegistryError('NAME_UNKNOWN', `repository ${name} is not known to the registry`, { detail: { name } });
  const page = paginate(tags, ctx.query, `/v2/${name}/tags/list`);
  await sendPage(ctx, { name, tags: page.items }, page);
};

export const listReferrers: Handler = async (ctx) => {
  const subject = requireDigest(ctx.route.reference);
  const artifactType = ctx.query.get('artifactType');
  let manifests = await ctx.deps.store.referrers(ctx.route.name, subject);
  const headers: Record<string, string> = { 'Content-Type': MediaType.ociIndex };
  if (artifactType !== null) {
    manifests = manifests.filter((descriptor) => descriptor.artifactType === artifactType);
    headers['OCI-Filters-Applied'] = 'artifactType';
  }
  await ctx.respond(jsonPlan(200, { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }, headers));
};
