// Faults on the bytes of a response body, as a transform of its chunks: corrupt (bytes changed in
// place, length kept), a cut (reset: TCP RST; close: a clean end of the connection, the declared
// Content-Length kept, so the client sees a short body) and pacing (stall at an offset, drip pieces
// with pauses, a rate in bytes per second). Waits are timers on the injected clock: a slow response
// holds no thread and ends the moment the client hangs up.
import seedrandom from 'seedrandom';
import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import type { Clock } from '../clock.js';
import { RegistryError } from '../oci/errors.js';
import { bodyChunks, type ResponsePlan } from '../http/response.js';
import { header } from './plan.js';
import type { FaultRules, Position } from './rules.js';

export interface BodyFaults {
  /** Offsets (from 0) of the bytes to change, sorted. */
  corrupt?: number[];
  cut?: { at: number; kind: 'reset' | 'close' };
  stall?: { at: number; ms: number };
  drip?: { at: number; size: number; every: number };
  /** Bytes per second. */
  rate?: number;
}

export function offsetOf(position: Position, length: number | undefined): number {
  if ('bytes' in position) return position.bytes;
  return Math.floor(((length ?? 0) * position.percent) / 100);
}

/** count distinct offsets below length, chosen by the seed, sorted. */
export function corruptOffsets(count: number, seed: number, length: number): number[] {
  if (length <= 0) return [];
  if (count >= length) return Array.from({ length }, (_, i) => i);
  const random = seedrandom(`broken-reg corrupt ${seed}`);
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(Math.floor(random() * length));
  return [...chosen].sort((a, b) => a - b);
}

/** The body faults of a rule set for a body of length bytes (undefined when unknown); undefined if none. */
export function bodyFaults(rules: FaultRules, length: number | undefined): BodyFaults | undefined {
  const faults: BodyFaults = {};
  // Without a known length the offsets are drawn from the first 64 KiB.
  if (rules.corrupt !== undefined) faults.corrupt = corruptOffsets(rules.corrupt, rules.seed ?? 0, length ?? 65_536);
  if (rules.reset) faults.cut = { at: offsetOf(rules.reset, length), kind: 'reset' };
  if (rules.close) faults.cut = { at: offsetOf(rules.close, length), kind: 'close' };
  const at = rules.at ? offsetOf(rules.at, length) : 0;
  if (rules.stall !== undefined) faults.stall = { at, ms: rules.stall };
  if (rules.drip !== undefined) faults.drip = { at, size: rules.drip, every: rules.every ?? 1000 };
  if (rules.rate !== undefined) faults.rate = rules.rate;
  return Object.keys(faults).length > 0 ? faults : undefined;
}

export interface ReshapeEnv {
  clock: Clock;
  /** Called once the cut offset's bytes are sent; ends the connection and throws. */
  cut(kind: 'reset' | 'close'): Promise<never>;
}

/** The piece of a rate-limited body sent at once: about 1/20 s worth, at most 64 KiB. */
function ratePiece(rate: number): number {
  return Math.max(1, Math.min(65_536, Math.floor(rate / 20)));
}

/** The chunks of source with the faults applied. */
export async function* reshape(source: AsyncIterable<Uint8Array>, faults: BodyFaults, env: ReshapeEnv, signal: AbortSignal): AsyncIterable<Uint8Array> {
  const { corrupt = [], cut, stall, drip, rate } = faults;
  let offset = 0;
  let next = 0; // the next corrupt offset to apply
  let stalled = false;
  const started = env.clock.now().getTime();
  const piece = Math.min(drip ? drip.size : Infinity, rate ? ratePiece(rate) : Infinity);
  const pause = async (ms: number) => {
    if (ms > 0) await env.clock.sleep(ms, signal);
  };
  if (cut && cut.at === 0) return await env.cut(cut.kind);
  for await (const original of source) {
    let chunk = original;
    if (cut && offset + chunk.length > cut.at) chunk = chunk.subarray(0, cut.at - offset);
    if (next < corrupt.length && (corrupt[next] as number) < offset + chunk.length) {
      chunk = Uint8Array.from(chunk); // never change the source's bytes (a stored manifest, a reused buffer)
      for (; next < corrupt.length && (corrupt[next] as number) < offset + chunk.length; next++) {
        const at = (corrupt[next] as number) - offset;
        chunk[at] = (chunk[at] as number) ^ 0xff;
      }
    }
    let from = 0;
    while (from < chunk.length) {
      if (stall && !stalled && offset >= stall.at) {
        stalled = true;
        await pause(stall.ms);
      }
      // Pieces end at the stall offset, and are small where dripping or rate-limited.
      let to = chunk.length;
      if (stall && !stalled && stall.at > offset) to = Math.min(to, from + (stall.at - offset));
      const slow = (drip && offset >= drip.at) || rate;
      if (slow) to = Math.min(to, from + piece);
      else if (drip && drip.at > offset) to = Math.min(to, from + (drip.at - offset));
      yield to === chunk.length && from === 0 ? chunk : chunk.subarray(from, to);
      offset += to - from;
      from = to;
      if (drip && offset > drip.at) await pause(drip.every);
      if (rate) await pause(started + (offset / rate) * 1000 - env.clock.now().getTime());
    }
    if (cut && offset >= cut.at) return await env.cut(cut.kind);
  }
  if (stall && !stalled && offset >= stall.at) await pause(stall.ms);
}

/** How long a reset waits after the last byte was handed to the kernel. */
const RESET_GRACE_MS = 20;

/** Resolves once everything written to the socket so far has been handed to the kernel. */
function flushed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.write(new Uint8Array(0), () => resolve());
  });
}

/**
 * Ends the connection of res after the bytes written so far: close shuts the socket down cleanly (a
 * FIN after the last byte), reset sends a TCP RST. Throws a RegistryError so that the writer stops,
 * and the log line names the fault.
 */
export async function cutConnection(res: ServerResponse, kind: 'reset' | 'close'): Promise<never> {
  const socket = res.socket;
  if (socket && !socket.destroyed) {
    await flushed(socket);
    if (kind === 'reset') {
      // A reset that reaches the client while the bytes before it are still unread can show as a
      // plain end of stream (Linux); a moment lets the client read them first.
      await new Promise((resolve) => setTimeout(resolve, RESET_GRACE_MS));
      if (!socket.destroyed) socket.resetAndDestroy();
    } else {
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.end(() => resolve());
      });
    }
  }
  throw RegistryError.custom(res.statusCode, kind === 'reset' ? 'FAULT_RESET' : 'FAULT_CLOSE', `broken/fault: connection ${kind === 'reset' ? 'reset' : 'closed'} as asked`);
}

/** The plan with its body reshaped by the faults, or unchanged when it has no body or there are none. */
export function reshapePlan(plan: ResponsePlan, rules: FaultRules, env: ReshapeEnv): ResponsePlan {
  const body = plan.body;
  if (!body) return plan;
  const length = Number(header(plan.headers, 'Content-Length'));
  const faults = bodyFaults(rules, Number.isSafeInteger(length) ? length : undefined);
  if (!faults) return plan;
  return { ...plan, body: { kind: 'stream', chunks: (signal) => reshape(bodyChunks(body, signal), faults, env, signal) } };
}
