// The malformed corpus as data: each kind names one defect, says where in the image it sits, and
// builds the image. Everything else in each image is correct (test/malformed-image.test.ts checks
// that the defect is found where `where` says and nothing else is wrong), and no two kinds share a
// blob or a manifest, so one registry can serve them all by digest.
import { digestOf } from '../../oci/digest.js';
import { MediaType } from '../../oci/media-types.js';
import { gzipStored, zstdRaw } from './compress.js';
import {
  correctImage,
  descriptor,
  gzipLayer,
  imageConfig,
  imageManifest,
  layerOf,
  LINUX_AMD64,
  LINUX_ARM64,
  manifestDescriptor,
  ociIndex,
  plainEntries,
  served,
  type MalformedImage,
  type ServedBlob,
} from './image.js';
import {
  child,
  DOCKER_FOREIGN_LAYER,
  FOREIGN_LAYER_URL,
  HUGE_HEADER_SIZE,
  HUGE_MANIFEST_LIMIT,
  indexImage,
  OCI_LAYER_ZSTD,
  schema1,
  UNKNOWN_LAYER_TYPE,
  withEntries,
  withLayerBlob,
} from './shapes.js';
import { file, tarArchive, tarHeader } from './tar.js';

export { MALFORMED_REPOSITORY, HUGE_HEADER_SIZE, HUGE_MANIFEST_LIMIT, FOREIGN_LAYER_URL } from './shapes.js';

export interface MalformedKind {
  kind: string;
  /** What is wrong, in a few words. */
  defect: string;
  /** Where the defect sits: `layers[i] <part>`, `config ...`, `manifest ...` or `index manifests[i] ...`. */
  where: string;
  build(kind: string): MalformedImage;
}

export const MALFORMED_KINDS: readonly MalformedKind[] = [
  {
    kind: 'tar-invalid',
    defect: 'the layer decompresses to bytes that are not a tar archive',
    where: 'layers[0] tar',
    build(kind) {
      const notTar = Buffer.from('broken-reg malformed image: tar-invalid\nthese bytes are not a tar archive\n'.repeat(16));
      return withLayerBlob(kind, gzipStored(notTar), digestOf(notTar));
    },
  },
  {
    kind: 'gzip-invalid',
    defect: 'the layer has a gzip header, then a deflate block of the reserved type 3',
    where: 'layers[0] gzip',
    build(kind) {
      const layer = layerOf(plainEntries(kind));
      const blob = Buffer.concat([layer.blob.subarray(0, 10), Buffer.from([0x07]), layer.blob.subarray(11)]);
      return withLayerBlob(kind, blob, layer.diffId);
    },
  },
  {
    kind: 'gzip-truncated',
    defect: 'the gzip stream stops halfway through the tar, before its final block and trailer',
    where: 'layers[0] gzip',
    build(kind) {
      const layer = layerOf(plainEntries(kind));
      return withLayerBlob(kind, layer.blob.subarray(0, Math.floor(layer.blob.length / 2)), layer.diffId);
    },
  },
  {
    kind: 'digest-mismatch',
    defect: "the layer blob's bytes (one gzip header byte changed) do not hash to its digest",
    where: 'layers[0] blob',
    build(kind) {
      const image = correctImage({ kind, layers: [layerOf(plainEntries(kind))] });
      const [config, layer] = image.blobs as [ServedBlob, ServedBlob];
      // The gzip header's OS byte, "unknown" (0xff) made "Unix" (3): still a valid gzip of the same
      // tar, so only the digest is wrong.
      const changed = Buffer.from(layer.bytes);
      changed[9] = 3;
      return { ...image, blobs: [config, served(changed, layer.digest)] };
    },
  },
  {
    kind: 'diffid-mismatch',
    defect: "the config's diff_id is not the sha256 of the layer's tar",
    where: 'config rootfs.diff_ids[0]',
    build(kind) {
      const layer = layerOf(plainEntries(kind));
      return withLayerBlob(kind, layer.blob, digestOf(`not the tar of ${kind}`));
    },
  },
  {
    kind: 'size-mismatch',
    defect: "the layer descriptor's size is one byte more than the blob",
    where: 'layers[0] descriptor size',
    build(kind) {
      const layer = layerOf(plainEntries(kind));
      const config = imageConfig(kind, [layer.diffId]);
      const layerDescriptor = descriptor(MediaType.dockerLayerGzip, layer.blob);
      const root = imageManifest('docker', descriptor(MediaType.dockerConfig, config), [{ ...layerDescriptor, size: layerDescriptor.size + 1 }]);
      return { root, manifests: [root], blobs: [served(config), served(layer.blob)] };
    },
  },
  {
    kind: 'blob-missing',
    defect: 'the layer blob is not in the registry (404 BLOB_UNKNOWN)',
    where: 'layers[0] blob',
    build(kind) {
      const image = correctImage({ kind, layers: [layerOf(plainEntries(kind))] });
      return { ...image, blobs: image.blobs.slice(0, 1) };
    },
  },
  {
    kind: 'config-missing',
    defect: 'the config blob is not in the registry (404 BLOB_UNKNOWN)',
    where: 'config blob',
    build(kind) {
      const image = correctImage({ kind, layers: [layerOf(plainEntries(kind))] });
      return { ...image, blobs: image.blobs.slice(1) };
    },
  },
  {
    kind: 'config-invalid-json',
    defect: 'the config blob is JSON cut off in the middle (its digest is right)',
    where: 'config blob',
    build(kind) {
      const layer = layerOf(plainEntries(kind));
      const config = imageConfig(kind, [layer.diffId]);
      const broken = config.subarray(0, Math.floor(config.length / 2));
      const root = imageManifest('docker', descriptor(MediaType.dockerConfig, broken), [descriptor(MediaType.dockerLayerGzip, layer.blob)]);
      return { root, manifests: [root], blobs: [served(broken), served(layer.blob)] };
    },
  },
  {
    kind: 'schema1-signed',
    defect: 'a Docker schema 1 manifest with a libtrust signature (+prettyjws)',
    where: 'manifest',
    build: (kind) => schema1(kind, true),
  },
  {
    kind: 'schema1-unsigned',
    defect: 'a Docker schema 1 manifest without signatures (+json)',
    where: 'manifest',
    build: (kind) => schema1(kind, false),
  },
  {
    kind: 'mediatype-unknown',
    defect: `the layer's media type is ${UNKNOWN_LAYER_TYPE}, which no one defines`,
    where: 'layers[0] mediaType',
    build(kind) {
      const layer = layerOf(plainEntries(kind));
      return withLayerBlob(kind, layer.blob, layer.diffId, UNKNOWN_LAYER_TYPE);
    },
  },
  {
    kind: 'mediatype-lie',
    defect: 'the layer is a zstd frame labelled tar.gzip',
    where: 'layers[0] mediaType',
    build(kind) {
      const tar = tarArchive(plainEntries(kind));
      return withLayerBlob(kind, zstdRaw(tar), digestOf(tar));
    },
  },
  {
    kind: 'zstd-in-docker',
    defect: `a Docker v2 manifest with a zstd layer (${OCI_LAYER_ZSTD}), which only OCI manifests may carry`,
    where: 'layers[0] mediaType',
    build(kind) {
      const tar = tarArchive(plainEntries(kind));
      return withLayerBlob(kind, zstdRaw(tar), digestOf(tar), OCI_LAYER_ZSTD);
    },
  },
  {
    kind: 'index-noplatform',
    defect: 'an OCI index whose only entry has no platform',
    where: 'index manifests[0] platform',
    build(kind) {
      const image = child(kind);
      return indexImage(ociIndex([manifestDescriptor(image.root)]), [image]);
    },
  },
  {
    kind: 'index-child-missing',
    defect: 'an OCI index for linux/amd64 and linux/arm64 whose arm64 manifest is not in the registry',
    where: 'index manifests[1]',
    build(kind) {
      const amd64 = child(kind, LINUX_AMD64);
      const arm64 = child(kind, LINUX_ARM64);
      const root = ociIndex([manifestDescriptor(amd64.root, LINUX_AMD64), manifestDescriptor(arm64.root, LINUX_ARM64)]);
      return { root, manifests: [root, amd64.root], blobs: [...amd64.blobs, ...arm64.blobs] };
    },
  },
  {
    kind: 'index-nested',
    defect: 'an OCI index whose linux/amd64 entry is another index (which holds the image)',
    where: 'index manifests[0]',
    build(kind) {
      const image = child(kind);
      const inner = ociIndex([manifestDescriptor(image.root, LINUX_AMD64)]);
      const root = ociIndex([manifestDescriptor(inner, LINUX_AMD64)]);
      return { root, manifests: [root, inner, ...image.manifests], blobs: image.blobs };
    },
  },
  {
    kind: 'layers-zero',
    defect: 'an image manifest with no layers (and a config with no diff_ids)',
    where: 'manifest layers',
    build(kind) {
      return correctImage({ kind: kind, layers: [] });
    },
  },
  {
    kind: 'manifest-huge',
    defect: `an OCI manifest over 4 MiB (a padding annotation), past the limit registries and clients use`,
    where: 'manifest',
    build(kind) {
      const layer = layerOf(plainEntries(kind));
      const config = imageConfig(kind, [layer.diffId]);
      const padding = 'broken-reg '.repeat(Math.ceil(HUGE_MANIFEST_LIMIT / 11) + 1024);
      const root = imageManifest('oci', descriptor(MediaType.ociConfig, config), [descriptor(MediaType.ociLayerGzip, layer.blob)], {
        'org.broken-reg.padding': padding,
      });
      return { root, manifests: [root], blobs: [served(config), served(layer.blob)] };
    },
  },
  {
    kind: 'foreign-layer',
    defect: `a non-distributable layer, not in the registry, whose urls name ${FOREIGN_LAYER_URL} (nothing listens there)`,
    where: 'layers[0] urls',
    build(kind) {
      const layer = layerOf(plainEntries(kind));
      const config = imageConfig(kind, [layer.diffId]);
      const root = imageManifest('docker', descriptor(MediaType.dockerConfig, config), [
        descriptor(DOCKER_FOREIGN_LAYER, layer.blob, { urls: [FOREIGN_LAYER_URL] }),
      ]);
      return { root, manifests: [root], blobs: [served(config)] };
    },
  },
  {
    kind: 'tar-traversal',
    defect: 'tar entries named ../, with an absolute path, and a symlink out of the root with a file written through it',
    where: 'layers[0] tar',
    build(kind) {
      return withEntries(kind, [
        ...plainEntries(kind),
        file('../broken-reg-traversal-dotdot', 'written outside the root through ../\n'),
        file('/broken-reg-traversal-absolute', 'written at an absolute path\n'),
        { name: 'malformed/escape', type: 'symlink', linkname: '../../../../../../../../../tmp' },
        file('malformed/escape/broken-reg-traversal-symlink', 'written outside the root through a symlink\n'),
      ]);
    },
  },
  {
    kind: 'whiteouts',
    defect: 'a second layer with an opaque whiteout (malformed/opaque/.wh..wh..opq) and a file whiteout (malformed/.wh.removed)',
    where: 'layers[1] tar',
    build(kind) {
      const lower = layerOf([
        ...plainEntries(kind),
        file('malformed/opaque/hidden', 'hidden by the opaque whiteout above\n'),
        file('malformed/removed', 'removed by the file whiteout above\n'),
      ]);
      const upper = layerOf([
        file('malformed/opaque/.wh..wh..opq', ''),
        file('malformed/opaque/visible', 'the only file left in this directory\n'),
        file('malformed/.wh.removed', ''),
      ]);
      return correctImage({ kind: kind, layers: [lower, upper] });
    },
  },
  {
    kind: 'hardlink-missing',
    defect: 'a hardlink to a file that is in no layer',
    where: 'layers[0] tar',
    build(kind) {
      return withEntries(kind, [...plainEntries(kind), { name: 'malformed/link', type: 'hardlink', linkname: 'malformed/nowhere' }]);
    },
  },
  {
    kind: 'tar-huge-header',
    defect: 'a tar header that claims a 1 TiB file, followed by a few bytes and the end of the gzip stream',
    where: 'layers[0] tar',
    build(kind) {
      const content = Buffer.from('a terabyte was promised; these bytes are all there is\n');
      const tar = Buffer.concat([tarArchive(plainEntries(kind), { end: false }), tarHeader({ ...file('malformed/huge', content), claimedSize: HUGE_HEADER_SIZE }), content]);
      return { ...correctImage({ kind: kind, layers: [gzipLayer(tar)] }) };
    },
  },
];

/** The kinds' names, in table order. */
export const MALFORMED_KIND_NAMES: readonly string[] = MALFORMED_KINDS.map((k) => k.kind);

export function findKind(name: string): MalformedKind | undefined {
  return MALFORMED_KINDS.find((k) => k.kind === name);
}
