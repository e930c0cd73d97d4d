// Gathers one image's tree as plain data (model.ts): index -> platform manifests -> config and layers,
// each marked present or missing. Prints nothing; render-tree.ts turns it into lines.
import { parseDigest } from '../oci/digest.js';
import { INDEX_TYPES } from '../oci/media-types.js';
import type { Store } from '../store/store.js';
import { ContentReader, MAX_DEPTH } from './content.js';
import type { Reference } from './manifest.js';
import { INSPECT_SCHEMA_VERSION, type ImageTree, type NodeRole, type TreeNode } from './model.js';
import { compare, upstreamOf } from './order.js';
import { formatRef, type ImageRef } from './ref.js';

export type TreeResult = { found: true; tree: ImageTree } | { found: false; message: string };

export async function collectTree(store: Store, ref: ImageRef): Promise<TreeResult> {
  const { repository } = ref;
  const tags = await store.listTags(repository);
  if (tags === undefined || (tags.length === 0 && (await store.listRevisions(repository)).length === 0)) {
    return { found: false, message: `repository ${repository} is not in the store ${store.root}` };
  }
  let digestText = ref.digest;
  if (digestText === null) {
    const tag = ref.tag ?? '';
    digestText = (await store.tagTarget(repository, tag)) ?? null;
    if (digestText === null) return { found: false, message: `tag ${tag} is not in repository ${repository} (${listTags(tags)})` };
  }
  const digest = parseDigest(digestText);
  if (!digest) return { found: false, message: `tag ${ref.tag} of ${repository} does not hold a digest` };
  const revision = await store.revision(repository, digest);
  if (!revision) {
    const what = ref.digest === null ? `tag ${ref.tag} points at ${digest.text}, which` : `manifest ${digest.text}`;
    return { found: false, message: `${what} is not in repository ${repository}` };
  }
  const reader = new ContentReader(store);
  const root = await buildNode(reader, { digest: digest.text, mediaType: revision.mediaType, size: null, platform: null }, 'manifest', 0);
  const reach = await reader.reachOf(digest.text, revision.mediaType);
  const missing = new Set<string>();
  const visit = (node: TreeNode): void => {
    if (!node.present) missing.add(node.digest);
    node.children.forEach(visit);
  };
  visit(root);
  return {
    found: true,
    tree: {
      schemaVersion: INSPECT_SCHEMA_VERSION,
      store: store.root,
      reference: formatRef(ref),
      repository,
      tag: ref.tag,
      digest: digest.text,
      cachedFrom: upstreamOf((await store.repositoryMeta(repository)).meta),
      size: reach.size,
      missingBlobs: [...missing].sort(compare),
      root,
    },
  };
}

/** A manifest node and everything below it; `described.size` null means "the stored size" (the root). */
async function buildNode(reader: ContentReader, described: Reference, role: NodeRole, depth: number): Promise<TreeNode> {
  const loaded = await reader.manifest(described.digest, described.mediaType);
  const isIndex = loaded.present ? loaded.parsed.kind === 'index' : described.mediaType !== null && INDEX_TYPES.has(described.mediaType);
  const node: TreeNode = {
    role: isIndex ? 'index' : role,
    digest: described.digest,
    mediaType: described.mediaType,
    size: described.size ?? (loaded.present ? loaded.size : null),
    present: loaded.present,
    platform: described.platform,
    problem: null,
    attestationOf: described.attestationOf ?? null,
    children: [],
  };
  if (!loaded.present) return node;
  node.problem = sizeProblem(described.size, loaded.size);
  const { parsed } = loaded;
  if (parsed.kind === 'other') node.problem ??= 'not an image manifest or index';
  if (depth >= MAX_DEPTH) {
    node.problem ??= `nested more than ${MAX_DEPTH} levels deep; not followed`;
    return node;
  }
  for (const child of parsed.manifests) node.children.push(await buildNode(reader, child, 'manifest', depth + 1));
  if (parsed.config) node.children.push(await blobNode(reader, parsed.config, 'config'));
  for (const layer of parsed.layers) node.children.push(await blobNode(reader, layer, 'layer'));
  return node;
}

async function blobNode(reader: ContentReader, described: Reference, role: NodeRole): Promise<TreeNode> {
  const stored = await reader.blobSize(described.digest);
  return {
    role,
    digest: described.digest,
    mediaType: described.mediaType,
    size: described.size,
    present: stored !== undefined,
    platform: described.platform,
    problem: parseDigest(described.digest) ? sizeProblem(described.size, stored) : 'not a valid digest',
    attestationOf: null,
    children: [],
  };
}

function sizeProblem(declared: number | null, stored: number | undefined): string | null {
  if (declared === null || stored === undefined || declared === stored) return null;
  return `stored blob is ${stored} bytes, descriptor says ${declared}`;
}

function listTags(tags: string[]): string {
  if (tags.length === 0) return 'it has no tags';
  const shown = tags.slice(0, 8).join(', ');
  return `tags: ${shown}${tags.length > 8 ? `, and ${tags.length - 8} more` : ''}`;
}
