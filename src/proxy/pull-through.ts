// The pull-through cache: manifests and blobs of names outside broken/ come from the store when they
// are there (tags re-checked at most once per --proxy-ttl), else from the upstream, stored on the way.
import { RegistryError } from '../oci/errors.js';
import { requireDigest } from '../oci/reference.js';
import { digestBytes, parseDigest, type Digest } from '../oci/digest.js';
import { MediaType, isMediaType } from '../oci/media-types.js';
import { MAX_MANIFEST_BYTES } from '../registry/manifests.js';
import { readCapped } from '../http/request.js';
import { fileContent, type BlobContent, type ContentSource, type ManifestContent, type ManifestReference } from '../registry/content.js';
import { declaredMediaType } from '../store/manifest-facts.js';
import type { Store, StoredManifest } from '../store/store.js';
import type { RequestContext } from '../http/context.js';
import type { Clock } from '../clock.js';
import { BufferPool } from '../http/lent.js';
import { BlobFetch, fetchMemory } from './blob-fetch.js';
import { BLOCK_BYTES } from './http1.js';
import { fetchContent } from './read-along.js';
import { first, UpstreamClient, type UpstreamResponse } from './client.js';
import { upstreamStatusError } from './upstream-errors.js';
import { upstreamFor, type UpstreamName } from './upstream-name.js';
import type { ProxyOptions } from './options.js';

/** Blocks kept for the next fetches: enough for one fetch's window and writes, not for eight at once. */
const SPARE_BLOCKS = 32;

/** Manifest types asked for when the client sent no Accept header. */
export const DEFAULT_ACCEPT = [
  MediaType.ociIndex,
  MediaType.dockerManifestList,
  MediaType.ociManifest,
  MediaType.dockerManifest,
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
].join(', ');

/**
 * The pull-through source: decorates the store (what is cached) with the upstream (what is not yet).
 */
export class PullThrough implements ContentSource {
  /** Blob fetches in progress, by repository and digest: concurrent requests share one. */
  private readonly fetches = new Map<string, BlobFetch>();
  /** When each cached tag was last checked upstream (clock ms), by `name:tag`. */
  private readonly checked = new Map<string, number>();
  /** Repositories whose _meta.json this instance has written. */
  private readonly recorded = new Set<string>();
  /** The blocks upstream bodies are read into and readers are sent from, reused (see BlobFetch). */
  private readonly blocks = new BufferPool(BLOCK_BYTES, SPARE_BLOCKS);

  constructor(
    private readonly options: ProxyOptions,
    private readonly client: UpstreamClient,
    private readonly clock: Clock,
    private readonly warn: (message: string) => void = () => undefined,
  ) {}

  /**
   * Waits for the fetches under way: a client may have all of a blob while the store still writes it
   * (from a second request when the disk fell behind), and that work must end before the store does.
   */
  async close(): Promise<void> {
    await Promise.allSettled([...this.fetches.values()].map((fetch) => fetch.done));
  }

  /** The upstream of a name, refused with DENIED unless the host is allowed. */
  target(name: string): UpstreamName {
    const target = upstreamFor(name, this.options.upstream);
    this.options.allowlist.requireAllowed(target.host);
    return target;
  }

  async manifest(ctx: RequestContext, ref: ManifestReference): Promise<ManifestContent> {
    const { name } = ctx.route;
    const target = this.target(name);
    const store = ctx.deps.store;
    if (ref.digest) {
      const cached = await store.getManifest(name, ref.digest);
      return cached ?? (await this.fetchManifest(ctx, target, ref.digest.text, { expected: ref.digest }));
    }
    const { tag } = ref;
    const key = `${name}:${tag}`;
    const cached = await store.getManifest(name, tag);
    const now = this.clock.now().getTime();
    const last = this.checked.get(key);
    if (cached && last !== undefined && now - last < this.options.ttlMs) return cached;
    // A failed check counts as a check: an unreachable upstream is not asked on every pull.
    this.checked.set(key, now);
    if (!cached) return this.fetchManifest(ctx, target, tag, { tag });
    try {
      return await this.recheck(ctx, target, tag, cached);
    } catch (error) {
      if (ctx.signal.aborted) throw error;
      return cached; // the upstream is gone or erroring: the cached manifest is the answer
    }
  }

  async blob(ctx: RequestContext, digest: Digest): Promise<BlobContent> {
    const { name } = ctx.route;
    const target = this.target(name);
    const store = ctx.deps.store;
    const key = `${name}@${digest.text}`;
    const isHead = ctx.req.method === 'HEAD';
    // Map, then store, then map again: a fetch leaves the map only after its blob is in the store.
    let fetch = this.fetches.get(key);
    if (!fetch) {
      const cached = await store.repositoryBlob(name, digest);
      if (cached) return fileContent(cached);
      fetch = this.fetches.get(key);
    }
    if (!fetch && isHead) return this.headBlob(ctx, target, digest);
    if (!fetch) {
      const stored = await store.blob(digest);
      if (stored) {
        // The content is here for another repository: serve it once the upstream confirms it has it here.
        await this.confirmBlob(ctx, target, digest);
        await store.linkBlob(name, digest);
        await this.recordUpstream(store, name, target);
        return fileContent(stored);
      }
      fetch = this.fetches.get(key) ?? this.startFetch(store, name, target, digest, key);
    }
    return fetchContent(fetch, digest, !isHead && ctx.req.headers.range === undefined, ctx.signal);
  }

  private startFetch(store: Store, name: string, target: UpstreamName, digest: Digest, key: string): BlobFetch {
    const path = `/v2/${target.repository}/blobs/${digest.text}`;
    const open = async (from: number) => {
      const blocks = () => this.blocks.take();
      const response = await this.client.send(target, { method: 'GET', path, range: from > 0 ? `bytes=${from}-` : undefined, bulk: true, blocks });
      const ranged = from > 0 && response.status === 206;
      if (response.status !== 200 && !ranged) throw await upstreamStatusError(response, target, 'blob', digest.text);
      const start = ranged ? rangeStart(first(response.headers['content-range'])) : 0;
      if (start === undefined || start > from) {
        response.body.destroy();
        throw new RegistryError('BAD_GATEWAY', `upstream ${target.host} answered a Range from ${from} of ${digest.text} with ${first(response.headers['content-range']) ?? 'no Content-Range'}`, {
          detail: { upstream: target.host },
        });
      }
      const length = Number(first(response.headers['content-length']));
      return { size: Number.isSafeInteger(length) && length >= 0 ? length : undefined, body: response.body, start, host: target.host };
    };
    const fetch = new BlobFetch(store, digest, open, this.blocks, () => fetchMemory(this.fetches.size), async () => {
      await store.linkBlob(name, digest);
      await this.recordUpstream(store, name, target);
    });
    this.fetches.set(key, fetch);
    const forget = () => {
      if (this.fetches.get(key) === fetch) this.fetches.delete(key);
    };
    // A failure reaches the clients reading the body as an error. Once they had every byte, or once
    // they had all gone (the fetch goes on for the store alone), only the store loses out, where
    // nobody would hear of it.
    const failed = (error: unknown) => {
      forget();
      const why = error instanceof Error ? error.message : String(error);
      if (fetch.complete) this.warn(`proxy: ${name}@${digest.text} reached its clients but was not stored: ${why}`);
      else if (fetch.failedUnheard) this.warn(`proxy: ${name}@${digest.text} was not stored, its clients gone: ${why}`);
    };
    fetch.done.then(forget, failed);
    return fetch;
  }

  /** A blob not fetched yet, for a HEAD: what the upstream says of it. */
  private async headBlob(ctx: RequestContext, target: UpstreamName, digest: Digest): Promise<BlobContent> {
    const response = await this.confirmBlob(ctx, target, digest);
    const length = Number(first(response.headers['content-length']));
    return {
      digest,
      size: Number.isSafeInteger(length) && length >= 0 ? length : undefined,
      body: () => {
        throw new Error('internal: a blob known from a HEAD upstream has no body here');
      },
    };
  }

  private async confirmBlob(ctx: RequestContext, target: UpstreamName, digest: Digest): Promise<UpstreamResponse> {
    const response = await this.client.send(target, { method: 'HEAD', path: `/v2/${target.repository}/blobs/${digest.text}`, signal: ctx.signal });
    if (response.status !== 200) throw await upstreamStatusError(response, target, 'blob', digest.text);
    await response.body.dump().catch(() => undefined);
    return response;
  }

  /** Asks the upstream whether a cached tag moved (HEAD first: it is cheaper and not rate limited). */
  private async recheck(ctx: RequestContext, target: UpstreamName, tag: string, cached: StoredManifest): Promise<StoredManifest> {
    const response = await this.client.send(target, {
      method: 'HEAD',
      path: `/v2/${target.repository}/manifests/${tag}`,
      accept: acceptOf(ctx),
      signal: ctx.signal,
    });
    await response.body.dump().catch(() => undefined);
    if (response.status !== 200) throw new Error(`upstream answered ${response.status}`);
    if (first(response.headers['docker-content-digest']) === cached.digest.text) return cached;
    return this.fetchManifest(ctx, target, tag, { tag });
  }

  /** GETs a manifest upstream, checks its digest, stores it byte for byte (and tags it). */
  private async fetchManifest(ctx: RequestContext, target: UpstreamName, reference: string, want: { tag?: string; expected?: Digest }) {
    const response = await this.client.send(target, {
      method: 'GET',
      path: `/v2/${target.repository}/manifests/${reference}`,
      accept: acceptOf(ctx),
      signal: ctx.signal,
    });
    if (response.status !== 200) throw await upstreamStatusError(response, target, 'manifest', reference);
    const bytes = await readManifestBody(response, target);
    const announced = parseDigest(first(response.headers['docker-content-digest']) ?? '');
    const expected = want.expected ?? announced;
    const digest = digestBytes(bytes, expected?.algorithm);
    if (expected && expected.text !== digest.text) {
      throw new RegistryError('BAD_GATEWAY', `upstream ${target.host} sent manifest ${reference} with digest ${digest.text}, expected ${expected.text}`, {
        detail: { upstream: target.host, expected: expected.text, actual: digest.text },
      });
    }
    const mediaType = mediaTypeOf(first(response.headers['content-type'])) ?? declaredMediaType(bytes) ?? MediaType.ociManifest;
    if (!isMediaType(mediaType)) {
      throw new RegistryError('BAD_GATEWAY', `upstream ${target.host} sent manifest ${reference} with a media type that cannot be a header value; not cached`, {
        detail: { upstream: target.host },
      });
    }
    const store = ctx.deps.store;
    await store.putManifest(ctx.route.name, bytes, mediaType, { tag: want.tag, expected: digest });
    await this.recordUpstream(store, ctx.route.name, target);
    return { digest, mediaType, bytes };
  }

  /** Records the repository's upstream in its metadata, keeping other facts. */
  private async recordUpstream(store: Store, name: string, target: UpstreamName): Promise<void> {
    if (this.recorded.has(name)) return;
    await store.updateRepositoryMeta(name, { upstream: target.host, upstreamRepository: target.repository });
    this.recorded.add(name);
  }
}

/** The first offset of a `Content-Range: bytes <first>-<last>/<size>` header. */
function rangeStart(header: string | undefined): number | undefined {
  const match = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(header?.trim() ?? '');
  const start = Number(match?.[1]);
  return match && Number.isSafeInteger(start) ? start : undefined;
}

function acceptOf(ctx: RequestContext): string {
  const accept = ctx.req.headers.accept;
  return accept && accept.trim() !== '' && accept.trim() !== '*/*' ? accept : DEFAULT_ACCEPT;
}

function mediaTypeOf(header: string | undefined): string | undefined {
  const type = header?.split(';')[0]?.trim();
  if (!type || type === 'application/octet-stream' || type === 'text/plain' || type === 'application/json') return undefined;
  return type;
}

function readManifestBody(response: UpstreamResponse, target: UpstreamName): Promise<Buffer> {
  return readCapped(response.body as AsyncIterable<Uint8Array>, MAX_MANIFEST_BYTES, () => {
    return new RegistryError('BAD_GATEWAY', `upstream ${target.host} sent a manifest larger than ${MAX_MANIFEST_BYTES} bytes`);
  });
}
