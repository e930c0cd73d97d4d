// Digests: the OCI grammar, the algorithms we can verify, and hashing helpers. Pure: no wire errors
// (requireDigest, which answers a request, is in reference.ts).
import { createHash } from 'node:crypto';

export const ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type Algorithm = keyof typeof ALGORITHMS;

export interface Digest {
  algorithm: Algorithm;
  hex: string;
  /** `algorithm:hex`, as written on the wire. */
  text: string;
}

/** Parses a digest, or returns undefined when it is not one we can verify. */
export function parseDigest(text: string): Digest | undefined {
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const algorithm = text.slice(0, colon);
  const hex = text.slice(colon + 1);
  if (!Object.hasOwn(ALGORITHMS, algorithm)) return undefined;
  const length = ALGORITHMS[algorithm as Algorithm];
  if (hex.length !== length || !/^[a-f0-9]+$/.test(hex)) return undefined;
  return { algorithm: algorithm as Algorithm, hex, text };
}

/** The digest of bytes in memory (a manifest, a config). */
export function digestBytes(data: Uint8Array | string, algorithm: Algorithm = 'sha256'): Digest {
  const hex = createHash(algorithm).update(data).digest('hex');
  return { algorithm, hex, text: `${algorithm}:${hex}` };
}

export function digestOf(data: Uint8Array | string, algorithm: Algorithm = 'sha256'): string {
  return digestBytes(data, algorithm).text;
}

/** `sha256:` and the first 12 hex digits, as docker prints image ids: for tables. */
export function shortDigest(digest: Digest | string): string {
  const text = typeof digest === 'string' ? digest : digest.text;
  const colon = text.indexOf(':');
  return colon < 0 ? text.slice(0, 19) : text.slice(0, colon + 13);
}

/** shortDigest followed by `…` when it cut something off: for messages that quote a digest. */
export function elidedDigest(digest: Digest | string): string {
  const text = typeof digest === 'string' ? digest : digest.text;
  const short = shortDigest(text);
  return short.length < text.length ? `${short}…` : short;
}

/** The JSON objects of parsed JSON (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
