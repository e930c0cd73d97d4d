// `docker save` tarballs (manifest.json with Config, RepoTags and Layers): each image becomes a Docker
// v2 schema 2 manifest written here. The config keeps its bytes (its digest is the image ID). Layers
// are stored as they are in the tarball, uncompressed, with the media type
// application/vnd.docker.image.rootfs.diff.tar (containerd, Docker and containers/image all pull
// it), so a layer's digest is its diff_id, checked against the config's rootfs.diff_ids. A layer
// that is already gzipped (some tools write those) keeps its bytes and gets the .tar.gzip type.
//
// Tags: with --tag, that tag (a tarball holding several images also needs --image to choose one);
// without, each RepoTag gives its tag part ("busybox:1.36" -> 1.36, "busybox" -> latest). Two images
// claiming the same tag part is an error that asks for --image and --tag.
import type { Store } from '../../store/store.js';
import { MediaType } from '../../oci/media-types.js';
import { isValidTag } from '../../oci/reference.js';
import { digestBytes, elidedDigest, isObject, type Digest } from '../../oci/digest.js';
import { normalizeReference, parseJson, readStoredBlob, tagOfReference } from './json.js';
import { resolvePath } from './tar-reader.js';
import {
  ImportError,
  MAX_CONFIG_BYTES,
  type ImportPlan,
  type ManifestToStore,
  type SelectOptions,
  type TagToWrite,
  type TarContents,
  type TarFile,
} from './types.js';

export const DOCKER_LAYER_TAR = 'application/vnd.docker.image.rootfs.diff.tar';

interface SavedImage {
  config: string;
  repoTags: string[];
  layers: string[];
}

export async function planDockerSave(contents: TarContents, store: Store, options: SelectOptions): Promise<ImportPlan> {
  const bytes = contents.metadata.get('manifest.json');
  if (!bytes) throw new ImportError('not a docker save tarball: manifest.json is missing');
  let images = readManifestJson(parseJson(bytes, 'manifest.json'));
  if (images.length === 0) throw new ImportError('manifest.json lists no images');
  if (options.image !== undefined) {
    const wanted = options.image;
    images = images.filter((image) => matchesImage(image, wanted));
    if (images.length !== 1) throw new ImportError(`${images.length ? 'several' : 'no'} images in manifest.json match --image ${wanted}`, 2);
  } else if (options.tag !== undefined && images.length > 1) {
    const all = images.flatMap((image) => image.repoTags).join(', ') || 'untagged images';
    throw new ImportError(`the tarball holds ${images.length} images (${all}): choose one with --image REF, or drop --tag to import each under its own tag`, 2);
  }

  const blobs = new Map<string, Digest>();
  const manifests: ManifestToStore[] = [];
  const tags = new Map<string, TagToWrite & { owner: string }>();
  for (const [i, image] of images.entries()) {
    const where = `manifest.json [${i}]`;
    const config = requireFile(contents, image.config, `${where} Config`);
    if (options.verify) await checkConfig(store, contents, image, config, where);
    const layers = image.layers.map((layer, j) => requireFile(contents, layer, `${where} Layers[${j}]`));
    for (const file of [config, ...layers]) blobs.set(file.digest.text, file.digest);
    const manifest = schema2Manifest(config, layers);
    manifests.push(manifest);
    const names = options.tag !== undefined ? [options.tag] : image.repoTags.map(tagOfReference);
    if (names.length === 0) throw new ImportError(`${where} has no RepoTags: pass --tag NAME`, 2);
    for (const tag of names) {
      if (!isValidTag(tag)) throw new ImportError(`${where} names tag "${tag}", which is not a valid tag: pass --tag NAME`);
      const seen = tags.get(tag);
      if (seen && seen.digest.text !== manifest.digest.text) {
        throw new ImportError(`images ${seen.owner} and ${image.repoTags.join(', ')} would both be tag ${tag}: import one at a time with --image and --tag`, 2);
      }
      tags.set(tag, { tag, digest: manifest.digest, mediaType: manifest.mediaType, owner: image.repoTags.join(', ') });
    }
  }
  return {
    format: 'docker-save',
    blobs: [...blobs.values()],
    manifests,
    tags: [...tags.values()].map(({ tag, digest, mediaType }) => ({ tag, digest, mediaType })),
  };
}

function readManifestJson(parsed: unknown): SavedImage[] {
  if (!Array.isArray(parsed)) throw new ImportError('manifest.json is not a list of images');
  return parsed.map((entry, i) => {
    const where = `manifest.json [${i}]`;
    if (!isObject(entry) || typeof entry.Config !== 'string') throw new ImportError(`${where} has no Config`);
    if (!Array.isArray(entry.Layers) || !entry.Layers.every((layer) => typeof layer === 'string')) {
      throw new ImportError(`${where} has no Layers list`);
    }
    const repoTags = Array.isArray(entry.RepoTags) ? entry.RepoTags.filter((tag): tag is string => typeof tag === 'string') : [];
    return { config: entry.Config, repoTags, layers: entry.Layers as string[] };
  });
}

function requireFile(contents: TarContents, name: string, where: string): TarFile {
  const file = contents.files.get(resolvePath(contents, name));
  if (!file) throw new ImportError(`${where}: ${name} is missing from the tarball`);
  return file;
}

/** The config's digest is the image ID its file is named after; its diff_ids are the layers' digests. */
async function checkConfig(store: Store, contents: TarContents, image: SavedImage, config: TarFile, where: string): Promise<void> {
  const named = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(resolvePath(contents, image.config))?.[1];
  if (named && named !== config.digest.hex) {
    throw new ImportError(`${where} Config ${image.config}: content has digest ${elidedDigest(config.digest)}, not the one its name claims`);
  }
  const parsed = parseJson(await readStoredBlob(store, config.digest, MAX_CONFIG_BYTES, 'config'), `${where} Config ${image.config}`);
  const rootfs = isObject(parsed) && isObject(parsed.rootfs) ? parsed.rootfs : undefined;
  const diffIds = rootfs && Array.isArray(rootfs.diff_ids) ? rootfs.diff_ids : undefined;
  if (!diffIds) throw new ImportError(`${where} Config ${image.config} has no rootfs.diff_ids`);
  if (diffIds.length !== image.layers.length) {
    throw new ImportError(`${where} lists ${image.layers.length} layers but its config has ${diffIds.length} diff_ids`);
  }
  for (const [j, layer] of image.layers.entries()) {
    const file = requireFile(contents, layer, `${where} Layers[${j}]`);
    if (!file.gzip && diffIds[j] !== file.digest.text) {
      throw new ImportError(`${where} Layers[${j}] ${layer}: content has digest ${elidedDigest(file.digest)}, not diff_id ${elidedDigest(String(diffIds[j]))}`);
    }
  }
}

function schema2Manifest(config: TarFile, layers: TarFile[]): ManifestToStore {
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: { mediaType: MediaType.dockerConfig, size: config.size, digest: config.digest.text },
    layers: layers.map((layer) => ({
      mediaType: layer.gzip ? MediaType.dockerLayerGzip : DOCKER_LAYER_TAR,
      size: layer.size,
      digest: layer.digest.text,
    })),
  };
  const bytes = Buffer.from(JSON.stringify(manifest, null, 3));
  const digest = digestBytes(bytes);
  return { digest, mediaType: MediaType.dockerManifest, bytes };
}

function matchesImage(image: SavedImage, wanted: string): boolean {
  const id = wanted.replace(/^sha256:/, '');
  if (id.length >= 12 && /^[a-f0-9]+$/.test(id) && image.config.replace(/^blobs\/sha256\//, '').startsWith(id)) return true;
  return image.repoTags.some((tag) => tag === wanted || normalizeReference(tag) === normalizeReference(wanted));
}
