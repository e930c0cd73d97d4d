// Reads manifests and blob sizes from the store once per inspect run, and works out what each manifest
// reaches: its size, the blobs below it, which of those are missing. Caches live in the instance.
import { parseDigest } from '../oci/digest.js';
import fs from 'node:fs/promises';
import type { Store } from '../store/store.js';
import type { ManifestKind } from './model.js';
import { parseManifest, platformText, type ParsedManifest, type Reference } from './manifest.js';
import { compare } from './order.js';

/** Indexes nest (an index of indexes), but not without end: deeper levels are not followed. */
export const MAX_DEPTH = 8;

export type LoadedManifest =
  | { digest: string; present: true; mediaType: string | null; size: number; parsed: ParsedManifest }
  | { digest: string; present: false; mediaType: string | null };

/** What a manifest reaches, for inspect: everything below it, what of that is missing, its size. */
export interface ManifestReach {
  kind: ManifestKind;
  size: number | null;
  platforms: string[];
  /** Digests below (and including) the manifest that the store does not hold, sorted. */
  missing: string[];
  /** Every digest the manifest reaches, itself and its subject included. */
  referenced: string[];
  /** The manifests it reaches, itself included. */
  manifests: string[];
  subject: string | null;
}

export class ContentReader {
  private readonly loaded = new Map<string, Promise<LoadedManifest>>();
  private readonly sizes = new Map<string, Promise<number | undefined>>();
  private readonly reaches = new Map<string, Promise<ManifestReach>>();

  constructor(readonly store: Store) {}

  /** The stored size of a blob, or undefined when the store does not hold it. */
  blobSize(digest: string): Promise<number | undefined> {
    let size = this.sizes.get(digest);
    if (!size) {
      const parsed = parseDigest(digest);
      size = parsed ? this.store.blob(parsed).then((blob) => blob?.size) : Promise.resolve(undefined);
      this.sizes.set(digest, size);
    }
    return size;
  }

  manifest(digest: string, mediaType: string | null): Promise<LoadedManifest> {
    let loaded = this.loaded.get(digest);
    if (!loaded) {
      loaded = this.readBlob(digest).then((bytes): LoadedManifest => {
        if (bytes === undefined) return { digest, present: false, mediaType };
        return { digest, present: true, mediaType, size: bytes.length, parsed: parseManifest(bytes, mediaType) };
      });
      this.loaded.set(digest, loaded);
    }
    return loaded;
  }

  /** A whole blob, or undefined when it is not (or no longer) stored. */
  private async readBlob(digest: string): Promise<Buffer | undefined> {
    const parsed = parseDigest(digest);
    const blob = parsed && (await this.store.blob(parsed));
    if (!blob) return undefined;
    try {
      return await fs.readFile(blob.path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'EISDIR') return undefined;
      throw error;
    }
  }

  reachOf(digest: string, mediaType: string | null, depth = 0): Promise<ManifestReach> {
    let reach = this.reaches.get(digest);
    if (!reach) {
      reach = this.computeReach(digest, mediaType, depth);
      this.reaches.set(digest, reach);
    }
    return reach;
  }

  private async computeReach(digest: string, mediaType: string | null, depth: number): Promise<ManifestReach> {
    const loaded = await this.manifest(digest, mediaType);
    if (!loaded.present) {
      return { kind: 'missing', size: null, platforms: [], missing: [digest], referenced: [digest], manifests: [digest], subject: null };
    }
    const { parsed } = loaded;
    const referenced = new Set([digest]);
    const manifests = new Set([digest]);
    const missing = new Set<string>();
    if (parsed.subject) referenced.add(parsed.subject);
    let size = loaded.size;
    if (parsed.kind === 'index') {
      size = 0;
      for (const child of depth < MAX_DEPTH ? parsed.manifests : []) {
        const below = await this.reachOf(child.digest, child.mediaType, depth + 1);
        size += below.size ?? child.size ?? 0;
        below.referenced.forEach((item) => referenced.add(item));
        below.manifests.forEach((item) => manifests.add(item));
        below.missing.forEach((item) => missing.add(item));
      }
    } else {
      for (const blob of distinct([...(parsed.config ? [parsed.config] : []), ...parsed.layers])) {
        const stored = await this.blobSize(blob.digest);
        referenced.add(blob.digest);
        if (stored === undefined) missing.add(blob.digest);
        size += blob.size ?? stored ?? 0;
      }
    }
    const platforms = parsed.manifests.flatMap((child) => (child.platform ? [platformText(child.platform)] : []));
    return {
      kind: parsed.kind,
      size,
      platforms,
      missing: [...missing].sort(compare),
      referenced: [...referenced],
      manifests: [...manifests],
      subject: parsed.subject,
    };
  }
}

/** The references with each digest once, in first-seen order. */
export function distinct(references: Reference[]): Reference[] {
  const seen = new Set<string>();
  return references.filter((item) => !seen.has(item.digest) && seen.add(item.digest));
}
