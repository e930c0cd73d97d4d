// The image references inspect accepts: `repo:tag`, `repo@sha256:<hex>`, `repo:tag@sha256:<hex>`, and
// `repo` meaning `repo:latest`. Names, tags and digests follow the OCI grammar.
import { parseDigest } from '../oci/digest.js';
import { isValidName, isValidTag } from '../oci/reference.js';

export interface ImageRef {
  repository: string;
  tag: string | null;
  digest: string | null;
}

export type RefParse = { ok: true; ref: ImageRef } | { ok: false; reason: string };

export const DEFAULT_TAG = 'latest';

export function parseImageRef(text: string): RefParse {
  const at = text.indexOf('@');
  const namePart = at < 0 ? text : text.slice(0, at);
  const digestPart = at < 0 ? null : text.slice(at + 1);
  const colon = namePart.lastIndexOf(':');
  const hasTag = colon > namePart.lastIndexOf('/');
  const repository = hasTag ? namePart.slice(0, colon) : namePart;
  const tag = hasTag ? namePart.slice(colon + 1) : null;
  if (!isValidName(repository)) {
    return fail(text, `"${clip(repository)}" is not a repository name (lowercase letters, digits, separators . _ - and /)`);
  }
  if (tag !== null && !isValidTag(tag)) return fail(text, `"${clip(tag)}" is not a tag`);
  if (digestPart !== null && !parseDigest(digestPart)) {
    return fail(text, `"${clip(digestPart)}" is not a digest (sha256:<64 hex> or sha512:<128 hex>)`);
  }
  return { ok: true, ref: { repository, tag: digestPart === null ? (tag ?? DEFAULT_TAG) : tag, digest: digestPart } };
}

/** The reference written back out: `repo:tag`, `repo@digest` or `repo:tag@digest`. */
export function formatRef(ref: ImageRef): string {
  return `${ref.repository}${ref.tag !== null ? `:${ref.tag}` : ''}${ref.digest !== null ? `@${ref.digest}` : ''}`;
}

function fail(text: string, why: string): RefParse {
  return { ok: false, reason: `invalid reference "${clip(text)}": ${why}` };
}

function clip(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}...` : text;
}
