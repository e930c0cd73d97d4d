// What the store refuses, in its own terms. The handler layer turns these into OCI codes in one map
// (http/errors.ts); nothing here knows HTTP.
import type { Digest } from '../oci/digest.js';

export class StoreError extends Error {
  override readonly name: string = 'StoreError';
}

/** Content did not hash to the digest it was claimed to have. */
export class DigestMismatch extends StoreError {
  override readonly name = 'DigestMismatch';

  constructor(
    /** What the content was: "upload", "manifest", "blob"... for the message. */
    readonly what: string,
    readonly expected: Digest,
    readonly actual: Digest,
  ) {
    super(`${what} digest ${actual.text} does not match ${expected.text}`);
  }
}

/** No upload session of that id belongs to the repository (never started, finished, cancelled, expired). */
export class UploadUnknown extends StoreError {
  override readonly name = 'UploadUnknown';

  constructor(readonly uuid: string) {
    super(`upload ${uuid.slice(0, 64)} is not known to this repository`);
  }
}

/** A chunk that does not continue exactly where the upload's data ends, or not end where it said. */
export class UploadOffsetMismatch extends StoreError {
  override readonly name = 'UploadOffsetMismatch';

  constructor(
    readonly uuid: string,
    /** The offset the next chunk must start at: the bytes received so far (nothing of the chunk kept). */
    readonly expected: number,
    readonly start: number,
    /** For a chunk of the wrong length: where its Content-Range said it ends, and where it ended. */
    readonly end?: number,
    readonly endedAt?: number,
  ) {
    super(
      end === undefined
        ? `chunk starts at ${start} but the upload has ${expected} bytes`
        : `Content-Range ${start}-${end} does not match the ${(endedAt ?? start) - start} bytes sent; nothing was kept, the upload has ${expected} bytes`,
    );
  }
}

/** The store's disk is full (or over quota): nothing of the write was kept. */
export function isOutOfSpace(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
