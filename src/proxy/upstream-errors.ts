// An upstream's non-success answer, turned into the OCI error a client of the proxy should see.
import { RegistryError } from '../oci/errors.js';
import { first, type UpstreamResponse } from './client.js';
import type { UpstreamName } from './upstream-name.js';

export type ContentKind = 'manifest' | 'blob';

export async function upstreamStatusError(response: UpstreamResponse, target: UpstreamName, kind: ContentKind, reference: string) {
  const said = await upstreamMessage(response);
  const where = `${target.host}/${target.repository}`;
  const detail = { upstream: target.host, repository: target.repository, reference, status: response.status, ...(said ? { message: said } : {}) };
  const suffix = said ? ` (${said})` : '';
  switch (response.status) {
    case 404:
      return new RegistryError(kind === 'manifest' ? 'MANIFEST_UNKNOWN' : 'BLOB_UNKNOWN', `${kind} ${reference} is not on upstream ${where}${suffix}`, { detail });
    case 401:
      return new RegistryError('UNAUTHORIZED', `upstream ${target.host} requires credentials for ${target.repository}: add them to the Docker config of the server${suffix}`, { detail });
    case 403:
      return new RegistryError('DENIED', `upstream ${target.host} denied access to ${target.repository}${suffix}`, { detail });
    case 429: {
      const retryAfter = first(response.headers['retry-after']);
      return new RegistryError('TOOMANYREQUESTS', `upstream ${target.host} is rate limiting${suffix}`, {
        detail,
        headers: retryAfter ? { 'Retry-After': retryAfter } : {},
      });
    }
    default:
      return new RegistryError('BAD_GATEWAY', `upstream ${target.host} answered ${response.status} for ${kind} ${reference} of ${target.repository}${suffix}`, { detail });
  }
}

/** The message of an OCI error envelope, if the upstream sent one (read at most 64 KiB). */
async function upstreamMessage(response: UpstreamResponse): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size > 65536) break;
    }
    const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { errors?: { code?: string; message?: string }[] };
    const error = parsed.errors?.[0];
    if (!error) return undefined;
    return [error.code, error.message].filter(Boolean).join(': ').slice(0, 300) || undefined;
  } catch {
    return undefined;
  }
}
