// Repository names, tags and digests in requests, checked against the OCI distribution grammar.
import { RegistryError } from './errors.js';
import { parseDigest, type Digest } from './digest.js';

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Longest repository name we accept, as CNCF distribution does. */
export const MAX_NAME_LENGTH = 255;

export function isValidName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME.test(name);
}

export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

export function requireName(name: string): string {
  if (!isValidName(name)) {
    throw new RegistryError('NAME_INVALID', `invalid repository name "${clip(name)}"`, { detail: { name: clip(name) } });
  }
  return name;
}

export function requireTag(tag: string): string {
  if (!isValidTag(tag)) {
    throw new RegistryError('TAG_INVALID', `invalid tag "${clip(tag)}"`, { detail: { tag: clip(tag) } });
  }
  return tag;
}

function clip(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

/** Parses a digest from a request, throwing DIGEST_INVALID with the reason. */
export function requireDigest(text: string | undefined, what = 'digest'): Digest {
  if (!text) throw new RegistryError('DIGEST_INVALID', `${what} is missing`);
  const digest = parseDigest(text);
  if (!digest) {
    throw new RegistryError('DIGEST_INVALID', `${what} "${clip(text)}" is not a valid sha256 or sha512 digest`, {
      detail: { digest: clip(text) },
    });
  }
  return digest;
}

