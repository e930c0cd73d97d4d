// The one table of registry error codes and their HTTP statuses, and the error type handlers throw.
// Codes from the OCI distribution spec come first; the rest are the seed's codes and ours.

export const ERROR_CODES = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 404, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
  TAG_INVALID: { status: 400, message: 'invalid tag' },
  PAGINATION_NUMBER_INVALID: { status: 400, message: 'invalid number of results requested' },
  RANGE_INVALID: { status: 416, message: 'requested range not satisfiable' },
  TOO_LARGE: { status: 413, message: 'request entity too large' },
  HEADERS_TOO_LARGE: { status: 431, message: 'request header fields too large' },
  NOT_FOUND: { status: 404, message: 'no such route' },
  BAD_REQUEST: { status: 400, message: 'the request could not be read' },
  EXPECTATION_FAILED: { status: 417, message: 'expectation failed' },
  FORBIDDEN: { status: 403, message: 'access to this resource is forbidden' },
  TIMEOUT: { status: 408, message: 'timeout' },
  INTERNAL_SERVER_ERROR: { status: 500, message: 'internal server error' },
  NOT_IMPLEMENTED: { status: 501, message: 'not implemented' },
  BAD_GATEWAY: { status: 502, message: 'upstream registry failed' },
  UNAVAILABLE: { status: 503, message: 'service unavailable' },
  GATEWAY_TIMEOUT: { status: 504, message: 'upstream registry timed out' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface RegistryErrorOptions {
  detail?: unknown;
  /** Extra response headers the error carries (WWW-Authenticate, Retry-After, Range...). */
  headers?: Record<string, string>;
}

/** The header every response of this registry carries. */
export const API_VERSION_HEADER = { 'Docker-Distribution-API-Version': 'registry/2.0' } as const;

export class RegistryError extends Error {
  readonly code: string;
  readonly status: number;
  readonly detail: unknown;
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, options: RegistryErrorOptions = {}) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'RegistryError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.detail = options.detail ?? {};
    this.headers = options.headers ?? {};
  }

  /**
   * An error with a status and code of the caller's choosing, outside the table: only for scenarios
   * whose whole point is to answer a chosen status (broken/error, faults).
   */
  static custom(status: number, code: string, message: string, options: RegistryErrorOptions = {}): RegistryError {
    const error = new RegistryError('INTERNAL_SERVER_ERROR', message, options);
    Object.assign(error, { status, code });
    return error;
  }

  /** The OCI error envelope. */
  toJSON(): { errors: { code: string; message: string; detail: unknown }[] } {
    return { errors: [{ code: this.code, message: this.message, detail: this.detail }] };
  }
}

export interface Envelope {
  status: number;
  headers: Record<string, string | number>;
  body: Buffer;
}

/** The one rendering of an error as a response: status, headers (the API version among them) and body. */
export function envelope(error: RegistryError): Envelope {
  const body = Buffer.from(JSON.stringify(error.toJSON()));
  return {
    status: error.status,
    headers: { ...API_VERSION_HEADER, 'Content-Type': 'application/json', 'Content-Length': body.length, ...error.headers },
    body,
  };
}
