// Gathers what the store holds, as plain data (model.ts): repositories, tags, untagged manifests,
// sizes, missing and orphan blobs. Prints nothing; render.ts turns the result into lines.
import { parseDigest } from '../oci/digest.js';
import type { Store } from '../store/store.js';
import { ContentReader, type ManifestReach } from './content.js';
import { INSPECT_SCHEMA_VERSION, type ManifestSummary, type Problem, type RepositorySummary, type StoreReport } from './model.js';
import type { Revision } from '../store/store.js';
import { compare, upstreamOf } from './order.js';

export async function collectStore(store: Store): Promise<StoreReport> {
  const reader = new ContentReader(store);
  // Blobs are listed before manifests are read: a manifest pushed meanwhile can only make fewer blobs
  // look orphaned, never more. (A blob uploaded for a push still in progress is an orphan until then.)
  const blobs = await store.listBlobs();
  const problems: Problem[] = [];
  const referenced = new Set<string>();
  const repositories: RepositorySummary[] = [];
  for (const name of await store.listRepositories()) {
    repositories.push(await collectRepository(store, reader, name, { referenced, problems }));
  }
  return {
    schemaVersion: INSPECT_SCHEMA_VERSION,
    store: store.root,
    repositories,
    blobs: { count: blobs.length, bytes: blobs.reduce((sum, blob) => sum + blob.size, 0) },
    orphanBlobs: blobs.filter((blob) => !referenced.has(blob.digest)),
    problems,
  };
}

interface Findings {
  referenced: Set<string>;
  problems: Problem[];
}

async function collectRepository(store: Store, reader: ContentReader, name: string, found: Findings): Promise<RepositorySummary> {
  const report = (digest: string | null, message: string) => found.problems.push({ repository: name, digest, message });
  const meta = await store.repositoryMeta(name);
  if (meta.problem) report(null, meta.problem);

  const revisions = await store.listRevisions(name);
  const byDigest = new Map(revisions.map((revision) => [revision.digest, revision]));
  const seen = new Set<string>();
  const summarize = async (revision: Revision): Promise<{ summary: ManifestSummary; reach: ManifestReach }> => {
    const reach = await reader.reachOf(revision.digest, revision.mediaType);
    const summary = toSummary(revision.digest, revision.mediaType, reach);
    if (!seen.has(revision.digest)) {
      seen.add(revision.digest);
      reach.referenced.forEach((digest) => found.referenced.add(digest));
      if (reach.kind === 'missing') report(revision.digest, 'manifest revision whose blob is missing from the store');
      if (revision.mediaType === null) report(revision.digest, 'manifest revision file is unreadable');
    }
    return { summary, reach };
  };

  const tags = [];
  const reachable = new Set<string>();
  for (const tag of (await store.listTags(name)) ?? []) {
    const text = await store.tagTarget(name, tag);
    if (text === undefined) continue; // deleted while we looked
    const digest = parseDigest(text);
    if (!digest) {
      report(null, `tag ${tag} does not hold a digest`);
      continue;
    }
    const revision = byDigest.get(digest.text) ?? (await store.revision(name, digest));
    if (!revision) {
      report(digest.text, `tag ${tag} points at a manifest the repository does not hold`);
      tags.push({ tag, ...toSummary(digest.text, null, undefined) });
      continue;
    }
    const { summary, reach } = await summarize(revision);
    reach.manifests.forEach((item) => reachable.add(item));
    tags.push({ tag, ...summary });
  }

  const untagged: ManifestSummary[] = [];
  for (const revision of revisions) {
    const { summary } = await summarize(revision);
    if (!reachable.has(revision.digest)) untagged.push(summary);
  }
  return {
    name,
    cachedFrom: upstreamOf(meta.meta),
    tags,
    untagged: untagged.sort((a, b) => compare(a.digest, b.digest)),
    manifestCount: revisions.length,
  };
}

function toSummary(digest: string, mediaType: string | null, reach: ManifestReach | undefined): ManifestSummary {
  return {
    digest,
    mediaType,
    kind: reach?.kind ?? 'missing',
    size: reach?.size ?? null,
    platforms: reach?.platforms ?? [],
    missingBlobs: reach?.missing ?? [],
    subject: reach?.subject ?? null,
  };
}
