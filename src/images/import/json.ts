// Small readers for the JSON documents of a tarball, failing with a message that names the document.
import { elidedDigest, isObject, type Digest } from '../../oci/digest.js';
import fs from 'node:fs/promises';
import type { Store } from '../../store/store.js';
import { ImportError } from './types.js';

export type JsonObject = Record<string, unknown>;

export interface RawDescriptor {
  mediaType?: string;
  digest: string;
  size: number;
  urls?: unknown;
  annotations?: Record<string, string>;
}

export function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new ImportError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

/** A descriptor's required fields, checked. */
export function readDescriptor(value: unknown, what: string): RawDescriptor {
  if (!isObject(value) || typeof value.digest !== 'string' || typeof value.size !== 'number') {
    throw new ImportError(`${what} is not a descriptor (it needs "digest" and "size")`);
  }
  const annotations = isObject(value.annotations) ? (value.annotations as Record<string, string>) : undefined;
  return {
    digest: value.digest,
    size: value.size,
    ...(typeof value.mediaType === 'string' ? { mediaType: value.mediaType } : {}),
    ...(value.urls !== undefined ? { urls: value.urls } : {}),
    ...(annotations ? { annotations } : {}),
  };
}

/** Reads a stored blob, refusing it when it is bigger than limit. */
export async function readStoredBlob(store: Store, digest: Digest, limit: number, what: string): Promise<Buffer> {
  const info = await store.blob(digest);
  if (!info) throw new ImportError(`${what} ${elidedDigest(digest)} is missing`);
  if (info.size > limit) throw new ImportError(`${what} ${elidedDigest(digest)} is ${info.size} bytes, more than the ${limit} allowed`);
  return fs.readFile(info.path);
}

/** The tag part of a reference: "docker.io/library/busybox:1.36" -> "1.36"; none -> "latest". */
export function tagOfReference(reference: string): string {
  const withoutDigest = reference.split('@')[0] ?? reference;
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return colon > slash ? withoutDigest.slice(colon + 1) : 'latest';
}

/** "busybox" -> "docker.io/library/busybox:latest", for matching --image against RepoTags. */
export function normalizeReference(reference: string): string {
  let ref = reference.includes('@') || /:[^/]*$/.test(reference) ? reference : `${reference}:latest`;
  const first = ref.split('/')[0] ?? '';
  const hasHost = ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasHost) ref = `docker.io/${ref.includes('/') ? ref : `library/${ref}`}`;
  return ref;
}
