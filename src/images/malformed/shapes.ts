// The shapes the malformed kinds share: a one-layer Docker image of given bytes, an index of
// platform images, schema1 manifests, and the media types and limits the kinds refer to.
import { digestOf } from '../../oci/digest.js';
import { MediaType } from '../../oci/media-types.js';
import {
  correctImage,
  descriptor,
  imageConfig,
  imageManifest,
  layerOf,
  LINUX_AMD64,
  manifestOf,
  plainEntries,
  served,
  type MalformedImage,
  type MalformedManifest,
} from './image.js';
import { prettySigned, schema1Payload, SCHEMA1_JWK, SCHEMA1_SIGNATURE } from './schema1.js';
import type { TarEntry } from './tar.js';

export const MALFORMED_REPOSITORY = 'broken/malformed';

/** A layer media type no registry or client defines. */
export const UNKNOWN_LAYER_TYPE = 'application/vnd.broken-reg.unknown.layer.v1';
export const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
export const DOCKER_FOREIGN_LAYER = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';
export const SCHEMA1_SIGNED = 'application/vnd.docker.distribution.manifest.v1+prettyjws';
export const SCHEMA1_UNSIGNED = 'application/vnd.docker.distribution.manifest.v1+json';
/** Where the foreign layer says it lives: the discard port on loopback, where nothing listens. */
export const FOREIGN_LAYER_URL = 'http://127.0.0.1:9/broken-reg/foreign-layer.tar.gz';
/** The size manifest-huge exceeds: the 4 MiB that distribution, containerd and containers/image accept. */
export const HUGE_MANIFEST_LIMIT = 4 * 1024 * 1024;
/** What the lying tar header claims: a terabyte. */
export const HUGE_HEADER_SIZE = 2 ** 40;

/** A Docker image of one layer whose tar or blob bytes are given (their digests right). */
export function withLayerBlob(kind: string, blob: Buffer, diffId: string, mediaType: string = MediaType.dockerLayerGzip): MalformedImage {
  const config = imageConfig(kind, [diffId]);
  const manifest = imageManifest('docker', descriptor(MediaType.dockerConfig, config), [descriptor(mediaType, blob)]);
  return { root: manifest, manifests: [manifest], blobs: [served(config), served(blob)] };
}

/** A correct one-layer Docker image of the given tar entries. */
export function withEntries(kind: string, entries: TarEntry[]): MalformedImage {
  return correctImage({ kind, layers: [layerOf(entries)] });
}

/** An index and everything its children serve. */
export function indexImage(root: MalformedManifest, children: MalformedImage[]): MalformedImage {
  return { root, manifests: [root, ...children.flatMap((child) => child.manifests)], blobs: children.flatMap((child) => child.blobs) };
}

/** A correct OCI image for one platform, to be an index entry. */
export function child(kind: string, platform = LINUX_AMD64): MalformedImage {
  const name = `${platform.os}-${platform.architecture}`;
  return correctImage({ kind: `${kind} ${name}`, format: 'oci', platform, layers: [layerOf(plainEntries(kind, name))] });
}

export function schema1(kind: string, signed: boolean): MalformedImage {
  const layer = layerOf(plainEntries(kind));
  const payload = schema1Payload(MALFORMED_REPOSITORY, kind, layer, digestOf(layer.blob));
  const root = signed
    ? manifestOf(SCHEMA1_SIGNED, prettySigned(payload, SCHEMA1_JWK, SCHEMA1_SIGNATURE), digestOf(payload))
    : manifestOf(SCHEMA1_UNSIGNED, payload);
  return { root, manifests: [root], blobs: [served(layer.blob)] };
}

