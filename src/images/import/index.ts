// Imports an image tarball into a broken/prepared repository: reads it once as a stream (blobs go
// straight into the store), detects the format, checks that everything is there, and only then writes
// manifests and tags. Any failure removes the blobs this import added, leaving the store as it was.
import type { Readable } from 'node:stream';
import type { Store } from '../../store/store.js';
import { isValidName, isValidTag } from '../../oci/reference.js';
import { ImportedBlobs } from './imported-blobs.js';
import { readTarball } from './tar-reader.js';
import { planOciLayout } from './oci-layout.js';
import { planDockerSave } from './docker-save.js';
import { commitPlan } from './commit.js';
import { ImportError, type ImportFormat, type ImportPlan, type SelectOptions, type TarContents } from './types.js';

export { ImportError } from './types.js';
export type { ImportFormat } from './types.js';

export const PREPARED_ROOT = 'broken/prepared';

export interface ImportOptions extends SelectOptions {
  repository: string;
  onProgress?: (bytesRead: number) => void;
  signal?: AbortSignal;
}

export interface ImportedImage {
  reference: string;
  tag: string;
  digest: string;
  mediaType: string;
}

export interface ImportResult {
  format: ImportFormat;
  repository: string;
  images: ImportedImage[];
  /** Distinct blobs and manifests the imported images use, and how many of them were new. */
  blobs: number;
  blobsAdded: number;
  bytesRead: number;
  verified: boolean;
}

/** Checks the target repository (broken/prepared or below it) and the tag; exit code 2 when wrong. */
export function checkTarget(repository: string, tag: string | undefined): void {
  if (repository !== PREPARED_ROOT && !repository.startsWith(`${PREPARED_ROOT}/`)) {
    throw new ImportError(`--repo must be ${PREPARED_ROOT} or ${PREPARED_ROOT}/<path>, not "${repository}"`, 2);
  }
  if (!isValidName(repository)) throw new ImportError(`--repo "${repository}" is not a valid repository name`, 2);
  if (tag !== undefined && !isValidTag(tag)) throw new ImportError(`--tag "${tag}" is not a valid tag`, 2);
}

export async function importTarball(store: Store, input: Readable, options: ImportOptions): Promise<ImportResult> {
  checkTarget(options.repository, options.tag);
  const blobs = new ImportedBlobs(store, options.verify);
  try {
    const contents = await readTarball(input, blobs, { onProgress: options.onProgress, signal: options.signal });
    const plan = await planFor(contents, store, options);
    options.signal?.throwIfAborted();
    await commitPlan(store, options.repository, plan);
    const used = new Set([...plan.blobs, ...plan.manifests.map((m) => m.digest)].map((d) => d.text));
    await blobs.removeAddedExcept(used);
    return {
      format: plan.format,
      repository: options.repository,
      images: plan.tags.map(({ tag, digest, mediaType }) => ({
        reference: `${options.repository}:${tag}`,
        tag,
        digest: digest.text,
        mediaType,
      })),
      blobs: used.size,
      blobsAdded: blobs.addedCount,
      bytesRead: contents.bytesRead,
      verified: options.verify,
    };
  } catch (error) {
    await blobs.rollback();
    if (options.signal?.aborted) throw new ImportError('import interrupted; nothing was imported');
    throw error;
  }
}

function planFor(contents: TarContents, store: Store, options: SelectOptions): Promise<ImportPlan> {
  // Docker 25+ writes both index.json and manifest.json; the OCI side keeps the original digests.
  if (contents.metadata.has('index.json')) return planOciLayout(contents, store, options);
  if (contents.metadata.has('manifest.json')) return planDockerSave(contents, store, options);
  throw new ImportError(
    contents.files.size === 0 && contents.metadata.size === 0
      ? 'not an image tarball: the archive is empty'
      : 'not an image tarball: it has neither index.json (OCI image layout) nor manifest.json (docker save)',
  );
}
