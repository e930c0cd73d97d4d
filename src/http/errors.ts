// The one map from what went wrong below the handlers (store refusals, a full disk, a body cut off)
// to the registry error a client is answered with.
import type { IncomingMessage } from 'node:http';
import { RegistryError } from '../oci/errors.js';
import { DigestMismatch, UploadOffsetMismatch, UploadUnknown, isOutOfSpace } from '../store/errors.js';

/** The Range header of an upload holding size bytes, as registries write it. */
export function uploadRange(size: number): string {
  return `0-${Math.max(0, size - 1)}`;
}

export function toRegistryError(error: unknown, req: IncomingMessage): RegistryError {
  if (error instanceof RegistryError) return error;
  if (error instanceof DigestMismatch) {
    return new RegistryError('DIGEST_INVALID', error.message, { detail: { expected: error.expected.text, actual: error.actual.text } });
  }
  if (error instanceof UploadUnknown) return new RegistryError('BLOB_UPLOAD_UNKNOWN', error.message);
  if (error instanceof UploadOffsetMismatch) {
    return new RegistryError('RANGE_INVALID', error.message, {
      headers: { Range: uploadRange(error.expected) },
      detail: { expectedStart: error.expected },
    });
  }
  if (isOutOfSpace(error)) return new RegistryError('UNAVAILABLE', 'the store is out of space; nothing was kept');
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if ((req.destroyed && !req.complete) || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new RegistryError('BLOB_UPLOAD_INVALID', 'the request was cut off before it completed');
  }
  return new RegistryError('INTERNAL_SERVER_ERROR', 'internal error; see the server log');
}
