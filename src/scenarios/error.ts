// broken/error:<status>: manifest requests answer that HTTP status in the OCI error envelope, with the
// headers the status carries. broken/error/<status> answers it for blobs too (a blob URL has no tag).
import { RegistryError } from '../oci/errors.js';
import { errorForStatus } from '../registry/status-errors.js';
import type { Handler, RequestContext } from '../http/context.js';
import type { Scenario } from './scenario.js';
import { requestOrigin } from '../auth/origin.js';

/** The status a request asks for: the path below broken/error, or else the tag of a manifest request. */
function statusOf(ctx: RequestContext): { text: string; from: 'tag' | 'path' } {
  const nested = ctx.route.name.split('/')[2];
  if (nested !== undefined) return { text: nested, from: 'path' };
  return { text: ctx.route.operation.startsWith('manifest.') ? ctx.route.reference : '', from: 'tag' };
}

const answer: Handler = async (ctx) => {
  const { text, from } = statusOf(ctx);
  throw errorForStatus(text, requestOrigin(ctx.req), ctx.route.name, from);
};

const blobAnswer: Handler = async (ctx) => {
  if (ctx.route.name.split('/').length < 3) {
    throw new RegistryError('BLOB_UNKNOWN', 'blob URLs carry no tag: use broken/error/<status> to fail blob requests');
  }
  await answer(ctx);
};

export const errorScenario: Scenario = {
  name: 'error',
  summary: 'Manifest requests answer the HTTP status named by the tag (400-599), in the OCI error envelope.',
  example: 'broken/error:404',
  parameters: [
    { name: '<status>', description: 'the HTTP status to answer, 400-599; anything else answers 501 "Huh?"', example: '503' },
  ],
  nested: true,
  operations: {
    'manifest.get': answer,
    'manifest.head': answer,
    'blob.get': blobAnswer,
    'blob.head': blobAnswer,
    'tags.list': answer,
  },
};

