// What the registry reads from a manifest it stores: its subject and the descriptor the referrers API
// lists. Manifests are stored whatever their content, so anything unreadable simply has no subject.
import { isObject, parseDigest, type Digest } from '../oci/digest.js';
import type { Descriptor } from '../oci/descriptor.js';

/** A manifest as the referrers API sees it: the subject it refers to, and how it is listed there. */
export interface ReferrerFacts {
  subject?: Digest;
  descriptor: Descriptor;
}

export function describeManifest(bytes: Buffer, mediaType: string, digest: string): ReferrerFacts {
  const descriptor: Descriptor = { mediaType, digest, size: bytes.length };
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { descriptor };
  }
  if (!isObject(parsed)) return { descriptor };
  const artifactType = stringField(parsed, 'artifactType') ?? (isObject(parsed.config) ? stringField(parsed.config, 'mediaType') : undefined);
  if (artifactType) descriptor.artifactType = artifactType;
  if (isObject(parsed.annotations)) descriptor.annotations = parsed.annotations as Record<string, string>;
  const subjectDigest = isObject(parsed.subject) ? stringField(parsed.subject, 'digest') : undefined;
  const subject = subjectDigest ? parseDigest(subjectDigest) : undefined;
  return subject ? { subject, descriptor } : { descriptor };
}

/** The mediaType a manifest names for itself, if any. */
export function declaredMediaType(bytes: Buffer): string | undefined {
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    return isObject(parsed) ? stringField(parsed, 'mediaType') : undefined;
  } catch {
    return undefined;
  }
}


function stringField(object: Record<string, unknown>, key: string): string | undefined {
  const value = object[key];
  return typeof value === 'string' ? value : undefined;
}
