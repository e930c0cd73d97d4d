// Faults on receiving: the request body of a PATCH, a PUT or a POST read slowly (rate-), or the
// connection reset after that many request-body bytes (reset-). A status- on such a request is
// answered before the inner handler runs (decorator.ts), so nothing of the body is stored; a reset
// mid-body fails the inner write the way a dropped client does, and the store keeps nothing of it.
import { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import type { Clock } from '../clock.js';
import type { RequestBody } from '../http/context.js';
import { RegistryError } from '../oci/errors.js';
import { offsetOf, ratePiece } from './body.js';
import type { FaultRules } from './rules.js';

/** The body's chunks, without destroying the request when the reader stops early (its answer must still go out). */
function chunksOf(body: RequestBody): AsyncIterable<Uint8Array> {
  return body instanceof Readable ? (body.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>) : body;
}

export interface ReceiveEnv {
  clock: Clock;
  signal: AbortSignal;
  socket: Socket | null;
  /** The request's Content-Length, for reset-<N>pct. */
  length: number | undefined;
}

/** The request body with rate- and reset- applied, or undefined when the rules change nothing. */
export function receiveFaults(body: RequestBody, rules: FaultRules, env: ReceiveEnv): RequestBody | undefined {
  if (rules.rate === undefined && rules.reset === undefined) return undefined;
  const cutAt = rules.reset ? offsetOf(rules.reset, env.length) : undefined;
  return received(chunksOf(body), rules.rate, cutAt, env);
}

async function* received(source: AsyncIterable<Uint8Array>, rate: number | undefined, cutAt: number | undefined, env: ReceiveEnv): AsyncIterable<Uint8Array> {
  const started = env.clock.now().getTime();
  const piece = rate ? ratePiece(rate) : Infinity;
  let offset = 0;
  const cut = (): never => {
    env.socket?.resetAndDestroy();
    throw new RegistryError('BLOB_UPLOAD_INVALID', `broken/fault: connection reset after ${offset} request-body bytes, as asked`);
  };
  if (cutAt === 0) cut();
  for await (const chunk of source) {
    let from = 0;
    while (from < chunk.length) {
      let to = Math.min(chunk.length, from + piece);
      if (cutAt !== undefined) to = Math.min(to, from + (cutAt - offset));
      yield from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to);
      offset += to - from;
      from = to;
      if (cutAt !== undefined && offset >= cutAt) cut();
      if (rate) {
        const wait = started + (offset / rate) * 1000 - env.clock.now().getTime();
        if (wait > 0) await env.clock.sleep(wait, env.signal);
      }
    }
  }
}
