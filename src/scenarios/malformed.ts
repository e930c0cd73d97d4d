// broken/malformed:<kind>: a small deterministic image whose one defect is named by the tag (the
// kinds table in src/images/malformed/kinds.ts). Served from memory, not from the store: some kinds
// serve blobs whose bytes do not hash to their digest, which the store refuses by design.
import { RegistryError } from '../oci/errors.js';
import type { Digest } from '../oci/digest.js';
import { manifestReader } from '../registry/manifests.js';
import { blobReader } from '../registry/blobs.js';
import { paginate, sendPage } from '../registry/discovery.js';
import type { BlobContent, ContentSource, ManifestContent } from '../registry/content.js';
import type { Handler } from '../http/context.js';
import { createMalformedCorpus, MALFORMED_KINDS, MALFORMED_KIND_NAMES, MALFORMED_REPOSITORY } from '../images/malformed/index.js';
import type { Scenario } from './scenario.js';

export function createMalformedScenario(): Scenario {
  const corpus = createMalformedCorpus();

  const source: ContentSource = {
    async manifest(_ctx, reference): Promise<ManifestContent | undefined> {
      if (reference.digest) return corpus.manifest(reference.digest.text);
      const image = corpus.image(reference.tag);
      if (!image) throw unknownKind(reference.tag);
      return image.root;
    },
    async blob(_ctx, digest) {
      const blob = corpus.blob(digest.text);
      return blob && blobContent(digest, blob.bytes);
    },
  };
  const manifest = manifestReader(source);
  const blob = blobReader(source);
  const tags: Handler = async (ctx) => {
    const page = paginate([...MALFORMED_KIND_NAMES].sort(), ctx.query, `/v2/${ctx.route.name}/tags/list`);
    await sendPage(ctx, { name: ctx.route.name, tags: page.items }, page);
  };

  return {
    name: 'malformed',
    summary: 'A small image with the one defect the tag names (tar-invalid, digest-mismatch, schema1-signed, ...).',
    example: `${MALFORMED_REPOSITORY}:digest-mismatch`,
    parameters: MALFORMED_KINDS.map(({ kind, defect }) => ({ name: kind, description: defect, example: kind })),
    nested: false,
    operations: {
      'manifest.get': manifest,
      'manifest.head': manifest,
      'blob.get': blob,
      'blob.head': blob,
      'tags.list': tags,
    },
  };
}

/** Bytes answered for a digest, which they need not hash to. */
function blobContent(digest: Digest, bytes: Buffer): BlobContent {
  return {
    digest,
    size: bytes.length,
    body: (range) => ({ kind: 'bytes', bytes: range ? bytes.subarray(range.start, range.end + 1) : bytes }),
  };
}

function unknownKind(tag: string): RegistryError {
  const shown = tag.slice(0, 130);
  return new RegistryError('MANIFEST_UNKNOWN', `${MALFORMED_REPOSITORY} has no kind "${shown}"; pull one of: ${MALFORMED_KIND_NAMES.join(', ')}`, {
    detail: { tag: shown, kinds: MALFORMED_KIND_NAMES },
  });
}
