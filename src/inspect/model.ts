// The data `inspect` gathers, and exactly the JSON `inspect --json` prints (documented field by field
// in docs/inspect-json.md). Every field is always present; "unknown" is null, never a missing key.
// Change a field name only together with INSPECT_SCHEMA_VERSION and the document.

/** Bumped whenever a field is renamed, removed or changes meaning. Adding fields does not bump it. */
export const INSPECT_SCHEMA_VERSION = 1;

/** What a manifest turned out to be: an index (or Docker list), an image, anything else, or absent. */
export type ManifestKind = 'index' | 'image' | 'other' | 'missing';

export interface Platform {
  os: string;
  architecture: string;
  variant: string | null;
}

/** One manifest of a repository, with the facts about everything below it. */
export interface ManifestSummary {
  digest: string;
  /** The media type it was stored with; null when the repository does not hold it. */
  mediaType: string | null;
  kind: ManifestKind;
  /**
   * Bytes: an image counts its manifest, config and layers, each distinct digest once; an index is
   * the sum of its children's sizes. Null when the manifest itself is missing.
   */
  size: number | null;
  /** For an index, its children's platforms as `os/architecture[/variant]`; else empty. */
  platforms: string[];
  /** Digests below this manifest (itself included) that the store does not hold, sorted. */
  missingBlobs: string[];
  /** The digest in the manifest's `subject` field (signatures, SBOMs...), else null. */
  subject: string | null;
}

export interface TagSummary extends ManifestSummary {
  tag: string;
}

export interface RepositorySummary {
  name: string;
  /** The upstream registry this repository is a pull-through cache of, else null. */
  cachedFrom: string | null;
  /** Every tag, sorted by name. */
  tags: TagSummary[];
  /** Manifests no tag reaches (directly or as a child of a tagged index), sorted by digest. */
  untagged: ManifestSummary[];
  /** How many manifest revisions the repository holds. */
  manifestCount: number;
}

export interface StoredBlob {
  digest: string;
  size: number;
}

/** Something inspect found wrong while walking the store: reported, never fatal. */
export interface Problem {
  repository: string | null;
  digest: string | null;
  message: string;
}

/** `broken-reg inspect --json` without a reference. */
export interface StoreReport {
  schemaVersion: number;
  /** Absolute path of the store directory. */
  store: string;
  repositories: RepositorySummary[];
  /** Everything under blobs/ (layers, configs and manifests alike): its size on disk. */
  blobs: { count: number; bytes: number };
  /** Stored blobs that no manifest revision of any repository references, sorted by digest. */
  orphanBlobs: StoredBlob[];
  problems: Problem[];
}

export type NodeRole = 'index' | 'manifest' | 'config' | 'layer';

/** One node of an image tree: a manifest, config or layer as its parent's descriptor names it. */
export interface TreeNode {
  role: NodeRole;
  digest: string;
  /** The descriptor's media type (for the root: the one the manifest was stored with). */
  mediaType: string | null;
  /** The descriptor's size (for the root: the stored manifest's size); null when not stated. */
  size: number | null;
  /** Whether the store holds the blob. */
  present: boolean;
  /** From the index descriptor naming this manifest, else null. */
  platform: Platform | null;
  /** Something odd about the node (unreadable manifest, size mismatch...), else null. */
  problem: string | null;
  /** For a buildx attestation manifest, the digest of the image it describes (from the index), else null. */
  attestationOf: string | null;
  children: TreeNode[];
}

/** `broken-reg inspect REF --json`. */
export interface ImageTree {
  schemaVersion: number;
  store: string;
  /** The reference as resolved: `repo:tag`, `repo@digest` or `repo:tag@digest`. */
  reference: string;
  repository: string;
  tag: string | null;
  digest: string;
  cachedFrom: string | null;
  /** Same rule as ManifestSummary.size. */
  size: number | null;
  /** Every digest in the tree the store does not hold, sorted, each once. */
  missingBlobs: string[];
  root: TreeNode;
}
