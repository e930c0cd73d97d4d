// OCI image layout tarballs (oci-layout, index.json, blobs/<alg>/<hex>): every manifest and blob is
// kept byte-identical under the digest the layout names, indexes stay indexes (nested ones too), and
// the tags come from --tag or from org.opencontainers.image.ref.name annotations.
//
// Which manifest a tag points at:
//   - index.json lists one manifest (one image, or skopeo/buildx's single descriptor of an image
//     index): that manifest, byte-identical, tagged --tag or its ref.name.
//   - several, --image given: the one whose ref.name (or digest) matches.
//   - several, --tag given: index.json itself, stored as an image index, so the tag pulls as the
//     multi-platform index the layout describes (same bytes, same digest as index.json).
//   - several, no --tag: each manifest that has a ref.name gets that tag.
import type { Store } from '../../store/store.js';
import { digestBytes, elidedDigest, isObject, parseDigest, type Digest } from '../../oci/digest.js';
import { isValidTag } from '../../oci/reference.js';
import { INDEX_TYPES, MediaType } from '../../oci/media-types.js';
import { declaredMediaType } from '../../store/manifest-facts.js';
import { normalizeReference, parseJson, readDescriptor, readStoredBlob, tagOfReference, type RawDescriptor } from './json.js';
import {
  ImportError,
  MAX_METADATA_BYTES,
  type ImportPlan,
  type ManifestToStore,
  type SelectOptions,
  type TagToWrite,
  type TarContents,
} from './types.js';

const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';
const MAX_DEPTH = 8;

export async function planOciLayout(contents: TarContents, store: Store, options: SelectOptions): Promise<ImportPlan> {
  const indexBytes = contents.metadata.get('index.json');
  if (!indexBytes) throw new ImportError('not an OCI image layout: index.json is missing');
  const layout = contents.metadata.get('oci-layout');
  if (layout && options.verify) {
    const parsed = parseJson(layout, 'oci-layout');
    if (!isObject(parsed) || typeof parsed.imageLayoutVersion !== 'string') {
      throw new ImportError('oci-layout has no imageLayoutVersion');
    }
  }
  const index = parseJson(indexBytes, 'index.json');
  if (!isObject(index) || !Array.isArray(index.manifests)) throw new ImportError('index.json is not an image index (no "manifests" list)');
  const descriptors = index.manifests.map((entry, i) => readDescriptor(entry, `index.json manifests[${i}]`));
  if (descriptors.length === 0) throw new ImportError('index.json lists no manifests');

  const walker = new LayoutWalker(store, contents, options.verify);
  for (const [i, descriptor] of descriptors.entries()) await walker.visit(descriptor, `index.json manifests[${i}]`, 0);

  const tags = chooseTags(descriptors, options, indexBytes, walker);
  for (const entry of tags) {
    const manifest = walker.manifests.get(entry.digest.text);
    if (!manifest) throw new ImportError(`manifest ${elidedDigest(entry.digest)} for tag ${entry.tag} is not in the tarball`);
    entry.mediaType = manifest.mediaType;
  }
  return { format: 'oci-layout', blobs: [...walker.blobs.values()], manifests: [...walker.manifests.values()], tags };
}

function chooseTags(descriptors: RawDescriptor[], options: SelectOptions, indexBytes: Buffer, walker: LayoutWalker): TagToWrite[] {
  const named = (d: RawDescriptor): TagToWrite | undefined => {
    const tag = options.tag ?? refTag(d);
    return tag === undefined ? undefined : { tag, digest: descriptorDigest(d), mediaType: d.mediaType ?? '' };
  };
  if (options.image !== undefined) {
    const matches = descriptors.filter((d) => matchesImage(d, options.image ?? ''));
    const [only] = matches;
    if (!only || matches.length > 1) {
      throw new ImportError(
        `${matches.length ? 'several' : 'no'} manifests in index.json match --image ${options.image} (names: ${names(descriptors)})`,
        2,
      );
    }
    return [required(named(only))];
  }
  const [first, ...rest] = descriptors;
  if (first && rest.length === 0) return [required(named(first))];
  if (options.tag !== undefined) {
    const digest = digestBytes(indexBytes);
    if (indexBytes.length > MAX_METADATA_BYTES) throw new ImportError('index.json is too large to serve as an index');
    const mediaType = indexMediaType(indexBytes);
    walker.manifests.set(digest.text, { digest, mediaType, bytes: indexBytes });
    return [{ tag: options.tag, digest, mediaType }];
  }
  const tags = new Map<string, TagToWrite>();
  for (const descriptor of descriptors) {
    const tag = named(descriptor);
    if (!tag) continue;
    const seen = tags.get(tag.tag);
    if (seen && seen.digest.text !== tag.digest.text) {
      throw new ImportError(`index.json names tag ${tag.tag} on several manifests; choose one with --image and --tag`, 2);
    }
    tags.set(tag.tag, tag);
  }
  if (tags.size === 0) {
    throw new ImportError(
      `index.json lists ${descriptors.length} manifests and names no tag: pass --tag NAME to tag them all as one index, or --image to choose one`,
      2,
    );
  }
  return [...tags.values()];
}

function required(tag: TagToWrite | undefined): TagToWrite {
  if (!tag) throw new ImportError('the tarball names no tag for its image: pass --tag NAME', 2);
  return tag;
}

/** The tag a descriptor's ref.name annotation gives ("1.36", or the tag of "busybox:1.36"). */
function refTag(descriptor: RawDescriptor): string | undefined {
  const name = descriptor.annotations?.[REF_NAME];
  if (name === undefined) return undefined;
  const tag = isValidTag(name) ? name : tagOfReference(name);
  if (!isValidTag(tag)) throw new ImportError(`index.json names tag "${name}", which is not a valid tag: pass --tag NAME`);
  return tag;
}

function matchesImage(descriptor: RawDescriptor, image: string): boolean {
  const refName = descriptor.annotations?.[REF_NAME];
  const fullName = descriptor.annotations?.[CONTAINERD_NAME];
  if (descriptor.digest === image || (image.length >= 12 && descriptor.digest.replace(/^sha256:/, '').startsWith(image.replace(/^sha256:/, '')))) {
    return true;
  }
  if (refName !== undefined && (refName === image || tagOfReference(refName) === image)) return true;
  return fullName !== undefined && normalizeReference(fullName) === normalizeReference(image);
}

function names(descriptors: RawDescriptor[]): string {
  return descriptors.map((d) => d.annotations?.[REF_NAME] ?? elidedDigest(d.digest)).join(', ');
}

function indexMediaType(bytes: Buffer): string {
  const declared = declaredMediaType(bytes);
  return declared && INDEX_TYPES.has(declared) ? declared : MediaType.ociIndex;
}

function descriptorDigest(descriptor: RawDescriptor): Digest {
  const digest = parseDigest(descriptor.digest);
  if (!digest) throw new ImportError(`"${descriptor.digest.slice(0, 80)}" is not a sha256 or sha512 digest`);
  return digest;
}

/** Walks manifests from index.json down, collecting manifests (children first) and the blobs they use. */
class LayoutWalker {
  readonly manifests = new Map<string, ManifestToStore>();
  readonly blobs = new Map<string, Digest>();
  private readonly visited = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly contents: TarContents,
    private readonly verify: boolean,
  ) {}

  async visit(descriptor: RawDescriptor, where: string, depth: number): Promise<void> {
    const digest = descriptorDigest(descriptor);
    if (this.visited.has(digest.text)) return;
    this.visited.add(digest.text);
    if (depth > MAX_DEPTH) throw new ImportError(`${where}: indexes nested more than ${MAX_DEPTH} deep`);
    if (!(await this.present(descriptor, digest, `manifest ${elidedDigest(digest)} named by ${where}`))) return;
    const bytes = await readStoredBlob(this.store, digest, MAX_METADATA_BYTES, 'manifest');
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      if (this.verify) throw new ImportError(`manifest ${elidedDigest(digest)} is not valid JSON`);
    }
    const isIndex = isObject(parsed) && Array.isArray(parsed.manifests);
    const mediaType = descriptor.mediaType ?? declaredMediaType(bytes) ?? (isIndex ? MediaType.ociIndex : MediaType.ociManifest);
    const label = `manifest ${elidedDigest(digest)}`;
    if (isObject(parsed) && isIndex) {
      for (const [i, child] of (parsed.manifests as unknown[]).entries()) {
        await this.visit(readDescriptor(child, `${label} manifests[${i}]`), label, depth + 1);
      }
    } else if (isObject(parsed)) {
      if (parsed.config !== undefined) await this.blob(readDescriptor(parsed.config, `${label} config`), `${label} config`);
      const layers = Array.isArray(parsed.layers) ? parsed.layers : [];
      for (const [i, layer] of layers.entries()) await this.blob(readDescriptor(layer, `${label} layers[${i}]`), `${label} layers[${i}]`);
    }
    this.manifests.set(digest.text, { digest, mediaType, bytes });
  }

  private async blob(descriptor: RawDescriptor, where: string): Promise<void> {
    const digest = descriptorDigest(descriptor);
    const foreign = Array.isArray(descriptor.urls) && descriptor.urls.length > 0;
    if (this.blobs.has(digest.text)) return;
    const what = `blob ${elidedDigest(digest)} (${where})`;
    if (foreign && !(await this.store.blob(digest))) return;
    if (await this.present(descriptor, digest, what)) this.blobs.set(digest.text, digest);
  }

  /** Whether the content is in the tarball or the store, with the size its descriptor says. */
  private async present(descriptor: RawDescriptor, digest: Digest, what: string): Promise<boolean> {
    const inTar = this.contents.files.get(`blobs/${digest.algorithm}/${digest.hex}`);
    const size = inTar?.size ?? (await this.store.blob(digest))?.size;
    if (size === undefined) {
      if (this.verify) throw new ImportError(`${what} is missing from the tarball`);
      return false;
    }
    if (this.verify && size !== descriptor.size) {
      throw new ImportError(`${what} is ${size} bytes, but its descriptor says ${descriptor.size}`);
    }
    return true;
  }
}
