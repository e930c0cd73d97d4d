// broken/timeout:dur-<duration>: waits that long, then answers 408 TIMEOUT. The wait is a timer on the
// injected clock, so thousands can hang at once, and it ends the moment the client hangs up.
import { RegistryError } from '../oci/errors.js';
import { duration } from '../params/values.js';
import { parseTagParams, ParamError } from '../params/tag-params.js';
import type { Handler } from '../http/context.js';
import type { Scenario } from './scenario.js';

export const TIMEOUT_MESSAGE = 'Timeout duration has elapsed!';

/** The wait a tag asks for, in ms; MANIFEST_INVALID saying why when the tag is not `dur-<duration>` within --max-timeout. */
export function timeoutFor(tag: string, maxMs: number): number {
  try {
    return parseTagParams(tag, { dur: { required: true, parse: duration({ max: maxMs, limitFlag: '--max-timeout' }) } }).dur;
  } catch (error) {
    const reason = error instanceof ParamError ? error.message : String(error);
    throw new RegistryError('MANIFEST_INVALID', `broken/timeout needs a tag like dur-2s: ${reason}`, { detail: { tag, maxMs } });
  }
}

const wait: Handler = async (ctx) => {
  const ms = timeoutFor(ctx.route.reference, ctx.deps.config.limits.maxTimeoutMs);
  try {
    await ctx.deps.clock.sleep(ms, ctx.signal);
  } catch {
    ctx.res.destroy(); // the client hung up: nothing to answer
    return;
  }
  throw new RegistryError('TIMEOUT', TIMEOUT_MESSAGE, { detail: { duration: ctx.route.reference.slice(4) } });
};

/** broken/timeout holds no blobs; a push's blob check learns that, then meets the DENIED that says where pushes go. */
const noBlob: Handler = async (ctx) => {
  throw new RegistryError('BLOB_UNKNOWN', `broken/timeout holds no blobs: pushes go to broken/prepared or broken/prepared/<path>`, {
    detail: { name: ctx.route.name, digest: ctx.route.reference.slice(0, 200) },
  });
};

export const timeoutScenario: Scenario = {
  name: 'timeout',
  summary: 'Manifest requests wait for the duration in the tag, then answer 408 TIMEOUT.',
  example: 'broken/timeout:dur-30s',
  parameters: [{ name: 'dur', description: 'how long to wait, Go duration syntax (300ms, 1.5s, 2m, 1h2m3s)', example: 'dur-2s' }],
  nested: false,
  operations: { 'manifest.get': wait, 'manifest.head': wait, 'blob.get': noBlob, 'blob.head': noBlob },
};
