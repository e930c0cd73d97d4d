// Shared shapes of a tarball import: what was read from the tar, the plan it becomes, and its error.
import type { Digest } from '../../oci/digest.js';
import { CliError } from '../../cli-error.js';

/** A regular file of the tarball, already streamed into the store as a blob. */
export interface TarFile {
  digest: Digest;
  size: number;
  /** Whether the content starts with the gzip magic (a compressed layer). */
  gzip: boolean;
}

/** Everything the tar held, by normalized path (no leading "./"). */
export interface TarContents {
  /** Regular files streamed into the store, by path. */
  files: Map<string, TarFile>;
  /** Small metadata files kept in memory: oci-layout, index.json, manifest.json, repositories. */
  metadata: Map<string, Buffer>;
  /** Symbolic and hard links: path -> target path (already resolved against the link's directory). */
  links: Map<string, string>;
  bytesRead: number;
}

export interface ManifestToStore {
  digest: Digest;
  mediaType: string;
  bytes: Buffer;
}

export interface TagToWrite {
  tag: string;
  digest: Digest;
  mediaType: string;
}

export type ImportFormat = 'oci-layout' | 'docker-save';

/** What an import writes, in order: blob links, manifests (children first), then tags. */
export interface ImportPlan {
  format: ImportFormat;
  blobs: Digest[];
  manifests: ManifestToStore[];
  tags: TagToWrite[];
}

export interface SelectOptions {
  /** The tag to give the chosen image (else the names the tarball carries). */
  tag?: string;
  /** Chooses one image of a tarball holding several (a RepoTag, a ref.name, or a digest). */
  image?: string;
  /** false: import as-is, no digest verification or completeness checks. */
  verify: boolean;
}

/** A failure of the import, told to the user as is; exitCode 2 when the fix is a different command line. */
export class ImportError extends CliError {}

/** Manifests, index.json and manifest.json bigger than this are refused (as registries do). */
export const MAX_METADATA_BYTES = 4 * 1024 * 1024;
/** Image configs read to check diff_ids are refused beyond this. */
export const MAX_CONFIG_BYTES = 8 * 1024 * 1024;
