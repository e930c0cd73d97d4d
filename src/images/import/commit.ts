// Writes an import plan into a repository, last and all at once: blob links, then manifests (children
// before the indexes naming them), then tags. A failure half-way undoes what this commit wrote, so a
// tag never appears unless everything it needs is there.
import fs from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { Store } from '../../store/store.js';
import { writeFileAtomic } from '../../store/atomic.js';
import type { Digest } from '../../oci/digest.js';
import type { ImportPlan, ManifestToStore } from './types.js';

export async function commitPlan(store: Store, repository: string, plan: ImportPlan): Promise<void> {
  const undo: Array<() => Promise<unknown>> = [];
  try {
    for (const digest of plan.blobs) {
      if (await exists(store.layout.blobLink(repository, digest))) continue;
      await store.linkBlob(repository, digest);
      undo.push(() => store.unlinkBlob(repository, digest));
    }
    for (const manifest of plan.manifests) {
      const hadRevision = await exists(store.layout.manifestRevision(repository, manifest.digest));
      const hadBlob = (await store.blobInfo(manifest.digest)) !== undefined;
      await writeManifest(store, repository, manifest);
      if (!hadBlob) undo.push(() => fs.rm(store.layout.blob(manifest.digest), { force: true }));
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
 * Stores a manifest (and optionally tags it) through the Store. A manifest whose bytes do not hash to
 * its digest (only with --no-verify) cannot go through putManifest, which names manifests by their
 * content: its bytes are already stored under the claimed digest, so the revision and tag files are
 * written beside them, in the layout the Store reads.
 */
async function writeManifest(store: Store, repository: string, manifest: ManifestToStore, tag?: string): Promise<void> {
  const { digest, bytes, mediaType } = manifest;
  if (hashMatches(bytes, digest)) {
    await store.putManifest(repository, bytes, mediaType, { expected: digest, ...(tag !== undefined ? { tag } : {}) });
    return;
  }
  await writeFileAtomic(store.layout, store.layout.manifestRevision(repository, digest), JSON.stringify({ mediaType }));
  if (tag !== undefined) await writeFileAtomic(store.layout, store.layout.tag(repository, tag), digest.text);
}

async function restoreTag(store: Store, repository: string, tag: string, previous: Digest | undefined): Promise<void> {
  const manifest = previous ? await store.getManifest(repository, previous) : undefined;
  if (manifest) await writeManifest(store, repository, manifest, tag);
  else await store.deleteTag(repository, tag);
}

function hashMatches(bytes: Buffer, digest: Digest): boolean {
  return createHash(digest.algorithm).update(bytes).digest('hex') === digest.hex;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
