// The random bytes of one layer: a pure function of (seed, layer index).
//
// seedrandom (an ARC4-based PRNG, used as an instance, never globally) turns the text
// `broken-reg/random/v1/seed-<seed>/layer-<index>` into four 32-bit words; those seed xoshiro128**,
// whose 32-bit outputs are written little-endian, one after another. Everything is integer arithmetic
// on explicit byte order, so the stream is the same on every machine and Node version, and fast
// (over 1 GB/s): seedrandom alone would be ~50x slower. Changing any of this changes every digest the
// tests pin, which is the point of pinning them.
import seedrandom from 'seedrandom';

export const STREAM_VERSION = 'v1';

export interface ByteSource {
  /**
   * Fills target with the next target.length bytes of the stream. Calls must be whole multiples of 4
   * bytes, except the last one.
   */
  fill(target: Uint8Array): void;
}

/**
 * The byte stream of layer `index` of the images with `seed`, for a platform of an index (its name,
 * `linux/arm/v7`); linux/amd64, the platform of every image without an index, has the original text, so
 * an index's linux/amd64 image shares its layers with the image of the same tag without `platforms`.
 */
export function layerByteSource(seed: number, index: number, platform?: string): ByteSource {
  const scope = platform === undefined || platform === 'linux/amd64' ? '' : `platform-${platform}/`;
  const rng = seedrandom(`broken-reg/random/${STREAM_VERSION}/seed-${seed}/${scope}layer-${index}`);
  const state = new Uint32Array([rng.int32(), rng.int32(), rng.int32(), rng.int32()]);
  if (state.every((word) => word === 0)) state[0] = 0x9e3779b9; // xoshiro's one forbidden state
  return new Xoshiro128StarStar(state);
}

/** xoshiro128** from an explicit state (not all zero), for tests against the reference outputs. */
export function xoshiro128StarStar(state: Uint32Array): ByteSource {
  return new Xoshiro128StarStar(state);
}

/**
 * Reads a ByteSource in pieces of any length, as the files of a layer split its stream: whole words go
 * straight to the target, and a word cut by a piece's end is kept for the next piece. The bytes are the
 * ones one fill of the whole length would give.
 */
export class ByteReader {
  private readonly spare = new Uint8Array(4);
  private spareAt = 4;

  constructor(private readonly source: ByteSource) {}

  read(target: Uint8Array): void {
    let at = 0;
    while (this.spareAt < 4 && at < target.length) target[at++] = this.spare[this.spareAt++] as number;
    const rest = target.length - at;
    const whole = rest - (rest % 4);
    if (whole > 0) this.source.fill(target.subarray(at, at + whole));
    at += whole;
    if (at === target.length) return;
    this.source.fill(this.spare);
    this.spareAt = 0;
    while (at < target.length) target[at++] = this.spare[this.spareAt++] as number;
  }
}

class Xoshiro128StarStar implements ByteSource {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private ended = false;

  constructor(state: Uint32Array) {
    this.s0 = (state[0] ?? 0) | 0;
    this.s1 = (state[1] ?? 0) | 0;
    this.s2 = (state[2] ?? 0) | 0;
    this.s3 = (state[3] ?? 0) | 0;
  }

  fill(target: Uint8Array): void {
    if (this.ended) throw new Error('random byte stream: read on after a partial word');
    const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
    const whole = target.length - (target.length % 4);
    // The xoshiro128** step, inlined on locals: several times faster than a method on fields.
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    let word = 0;
    const words = Math.ceil(target.length / 4); // a tail of 1-3 bytes takes one more word
    for (let offset = 0; offset < words * 4; offset += 4) {
      word = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
      if (offset < whole) view.setInt32(offset, word, true); // signed: same bytes, no boxing
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
    if (whole === target.length) return;
    // The tail takes the low bytes of the last word, little-endian like the rest; the stream ends there.
    for (let i = whole; i < target.length; i++) target[i] = (word >>> (8 * (i - whole))) & 0xff;
    this.ended = true;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
