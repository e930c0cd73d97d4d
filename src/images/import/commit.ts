// Writes an import plan into a repository, last and all at once: blob links, then manifests (children
// before the indexes naming them), then tags. A failure half-way undoes what this commit wrote, so a
// tag never appears unless everything it needs is there.
import type { Store } from '../../store/store.js';
import { digestBytes, type Digest } from '../../oci/digest.js';
import type { ImportPlan, ManifestToStore } from './types.js';

export async function commitPlan(store: Store, repository: string, plan: ImportPlan): Promise<void> {
  const undo: Array<() => Promise<unknown>> = [];
  try {
    for (const digest of plan.blobs) {
      if (await store.repositoryBlob(repository, digest)) continue;
      await store.linkBlob(repository, digest);
      undo.push(() => store.unlinkBlob(repository, digest));
    }
    for (const manifest of plan.manifests) {
      const hadRevision = (await store.revision(repository, manifest.digest)) !== undefined;
      const hadBlob = (await store.blob(manifest.digest)) !== undefined;
      await writeManifest(store, repository, manifest);
      if (!hadBlob) undo.push(() => store.removeBlob(manifest.digest));
      if (!hadRevision) undo.push(() => store.deleteManifest(repository, manifest.digest));
    }
    for (const { tag, digest } of plan.tags) {
      const previous = await store.resolveTag(repository, tag);
      const manifest = plan.manifests.find((m) => m.digest.text === digest.text);
      if (!manifest) throw new Error(`internal: tag ${tag} names a manifest the plan does not hold`);
      await writeManifest(store, repository, manifest, tag);
      undo.push(() => restoreTag(store, repository, tag, previous));
    }
  } catch (error) {
    for (const step of undo.reverse()) await step().catch(() => undefined);
    throw error;
  }
}

/**
 * Stores a manifest (and optionally tags it). A manifest whose bytes do not hash to its digest (only
 * with --no-verify) is stored unverified under the claimed digest, its bytes already being that blob.
 */
async function writeManifest(store: Store, repository: string, manifest: ManifestToStore, tag?: string): Promise<void> {
  const { digest, bytes, mediaType } = manifest;
  await store.putManifest(repository, bytes, mediaType, { expected: digest, verify: hashMatches(bytes, digest), ...(tag !== undefined ? { tag } : {}) });
}

async function restoreTag(store: Store, repository: string, tag: string, previous: Digest | undefined): Promise<void> {
  const manifest = previous ? await store.getManifest(repository, previous) : undefined;
  if (manifest) await writeManifest(store, repository, manifest, tag);
  else await store.deleteTag(repository, tag);
}

function hashMatches(bytes: Buffer, digest: Digest): boolean {
  return digestBytes(bytes, digest.algorithm).text === digest.text;
}
