// Faults on the bytes of a response body, as a transform of its chunks: corrupt (bytes changed in
// place, length kept), a cut (reset: TCP RST; close: a clean end of the connection, the declared
// Content-Length kept, so the client sees a short body) and pacing (stall at an offset, drip pieces
// with pauses, a rate in bytes per second). Waits are timers on the injected clock: a slow response
// holds no thread and ends the moment the client hangs up.
import fs from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import seedrandom from 'seedrandom';
import type { Socket } from 'node:net';
import type { ServerResponse } from 'node:http';
import type { Clock } from '../clock.js';
import { RegistryError } from '../oci/errors.js';
import { bodyChunks, type Body, type ResponsePlan } from '../http/response.js';
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

/**
 * The piece of a rate-limited body sent (or read) at once: about 1/20 s worth, at most 64 KiB, and
 * at least 512 bytes or a second's worth, so that a thousand slow responses do not wake up thousands
 * of times a second to send three bytes each.
 */
export function ratePiece(rate: number): number {
  return Math.max(1, Math.min(65_536, Math.max(Math.floor(rate / 20), Math.min(rate, 512))));
}

/** Pulls a body's bytes a piece at a time: next(max) gives 1 to max bytes, undefined at the end. */
export interface Reader {
  next(max: number): Promise<Uint8Array | undefined>;
  close(): Promise<void>;
}

/** Bytes read from a file at once: at least this (small pieces share a read), at most the writer's chunk. */
const MIN_READ = 4096;
const MAX_READ = 512 * 1024;

/**
 * A reader of a body. A file is read in blocks sized to what is asked, so a response dripping a byte a
 * second holds a few KiB, not a writer's 512 KiB chunk; other bodies are cut out of their chunks.
 */
export function bodyReader(body: Body, signal: AbortSignal): Reader {
  let held: Uint8Array | undefined;
  const take = (max: number): Uint8Array | undefined => {
    if (!held) return undefined;
    const piece = held.length <= max ? held : held.subarray(0, max);
    held = held.length <= max ? undefined : held.subarray(max);
    return piece;
  };
  if (body.kind === 'file') {
    let position = body.start;
    let file: Promise<FileHandle> | undefined;
    return {
      async next(max) {
        if (held) return take(max);
        if (position > body.end || signal.aborted) return undefined;
        file ??= fs.promises.open(body.path, 'r');
        const buffer = Buffer.allocUnsafe(Math.min(body.end - position + 1, Math.max(MIN_READ, Math.min(max, MAX_READ))));
        const { bytesRead } = await (await file).read(buffer, 0, buffer.length, position);
        if (bytesRead <= 0) throw new Error(`${body.path} ended at ${position}, before byte ${body.end}`);
        position += bytesRead;
        held = buffer.subarray(0, bytesRead);
        return take(max);
      },
      close: async () => {
        if (file) await (await file).close().catch(() => undefined);
      },
    };
  }
  const chunks = bodyChunks(body, signal)[Symbol.asyncIterator]();
  return {
    async next(max) {
      if (!held) {
        const result = await chunks.next();
        if (result.done) return undefined;
        held = result.value;
      }
      return take(max);
    },
    close: async () => {
      await chunks.return?.();
    },
  };
}

/** The chunks of a body with the faults applied. */
export async function* reshape(source: Reader, faults: BodyFaults, env: ReshapeEnv, signal: AbortSignal): AsyncIterable<Uint8Array> {
  const { corrupt = [], cut, stall, drip, rate } = faults;
  let offset = 0;
  let next = 0; // the next corrupt offset to apply
  let stalled = false;
  const started = env.clock.now().getTime();
  const piece = Math.min(drip ? drip.size : Infinity, rate ? ratePiece(rate) : Infinity);
  const pause = async (ms: number) => {
    if (ms > 0) await env.clock.sleep(ms, signal);
  };
  try {
    for (;;) {
      if (stall && !stalled && offset >= stall.at) {
        stalled = true;
        await pause(stall.ms);
      }
      if (cut && offset >= cut.at) return await env.cut(cut.kind);
      // Pieces end at the offsets where something happens, and are small where dripping or paced.
      let max = MAX_READ;
      if (cut) max = Math.min(max, cut.at - offset);
      if (stall && !stalled) max = Math.min(max, stall.at - offset);
      if (rate || (drip && offset >= drip.at)) max = Math.min(max, piece);
      else if (drip) max = Math.min(max, drip.at - offset);
      let chunk = await source.next(max);
      if (!chunk) break;
      if (next < corrupt.length && (corrupt[next] as number) < offset + chunk.length) {
        chunk = Uint8Array.from(chunk); // never change the source's bytes (a stored manifest, a reused buffer)
        for (; next < corrupt.length && (corrupt[next] as number) < offset + chunk.length; next++) {
          const at = (corrupt[next] as number) - offset;
          chunk[at] = (chunk[at] as number) ^ 0xff;
        }
      }
      yield chunk;
      offset += chunk.length;
      if (drip && offset > drip.at) await pause(drip.every);
      if (rate) await pause(started + (offset / rate) * 1000 - env.clock.now().getTime());
    }
  } finally {
    await source.close();
  }
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
  return { ...plan, body: { kind: 'stream', chunks: (signal) => reshape(bodyReader(body, signal), faults, env, signal) } };
}
