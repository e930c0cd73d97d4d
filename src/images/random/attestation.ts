// buildx-style attestation manifests (buildkit's docs/attestations/attestation-storage.md): for each
// image of an index, an OCI manifest whose one layer is an in-toto statement about that image, and a
// config that only keeps clients that read every config happy. The index names it with platform
// unknown/unknown, so no runtime picks it, and the annotations that say which image it describes.
import { MediaType } from '../../oci/media-types.js';
import { digestOf } from '../../oci/digest.js';
import { imageManifest, writeBytes, RANDOM_IMAGE_CREATED, type BlobSink, type GeneratedManifest, type PlatformImage } from './image.js';
import type { ResolvedParams } from './params.js';
import { ATTESTATION_PLATFORM } from './platforms.js';

export const IN_TOTO_MEDIA_TYPE = 'application/vnd.in-toto+json';
export const PROVENANCE_PREDICATE = 'https://slsa.dev/provenance/v0.2';

/** The in-toto statement (SLSA provenance v0.2, as buildx writes by default) about one image. */
export function provenanceStatement(params: ResolvedParams, image: PlatformImage): Buffer {
  const statement = {
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: PROVENANCE_PREDICATE,
    subject: [{ name: '_', digest: { sha256: image.manifestDigest.slice('sha256:'.length) } }],
    predicate: {
      builder: { id: 'urn:broken-reg:random' },
      buildType: 'urn:broken-reg:random:v1',
      invocation: {
        parameters: { layers: params.layers, size: params.size, seed: params.seed, files: params.files, comp: params.comp, platform: image.platform.name },
      },
      metadata: { buildStartedOn: RANDOM_IMAGE_CREATED, buildFinishedOn: RANDOM_IMAGE_CREATED, reproducible: true },
    },
  };
  return Buffer.from(JSON.stringify(statement), 'utf8');
}

/** Writes the statement and config of image's attestation to the sink; returns its manifest. */
export async function generateAttestation(params: ResolvedParams, image: PlatformImage, sink: BlobSink): Promise<GeneratedManifest> {
  const statement = await writeBytes(sink, provenanceStatement(params, image), IN_TOTO_MEDIA_TYPE, 'attestation statement');
  const configBytes = Buffer.from(
    JSON.stringify({ ...ATTESTATION_PLATFORM, config: {}, rootfs: { type: 'layers', diff_ids: [statement.digest] } }),
    'utf8',
  );
  const config = await writeBytes(sink, configBytes, MediaType.ociConfig, 'attestation config');
  const layer = { ...statement, annotations: { 'in-toto.io/predicate-type': PROVENANCE_PREDICATE } };
  const manifest = imageManifest(MediaType.ociManifest, config, [layer]);
  return { manifest, manifestDigest: digestOf(manifest), mediaType: MediaType.ociManifest };
}
