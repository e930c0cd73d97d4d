// One random layer blob: a gzip of a tar holding one file of random bytes, generated in ~1 MiB chunks.
//
// The gzip is framed by hand, so its bytes never depend on a zlib version:
//
//   1f 8b 08 00 | 00 00 00 00 | 00 ff          magic, deflate, no flags, mtime 0, no XFL, OS "unknown"
//   stored deflate blocks of 65535 tar bytes:  [BFINAL|BTYPE=00] [LEN u16le] [~LEN u16le] [bytes]
//   CRC-32 of the tar (u32le), tar length mod 2^32 (u32le)
//
// The tar bytes are hashed (the diff_id) and checksummed while the gzip bytes are hashed (the blob
// digest), so one pass produces the blob and everything the config and manifest say about it.
import { createHash } from 'node:crypto';
import { layerByteSource } from './byte-source.js';
import { crc32 } from './crc32.js';
import { TAR_BLOCK, tarFileHeader, tarLength } from './tar.js';

const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff]);
const GZIP_TRAILER_LENGTH = 8;
/** The most bytes one stored deflate block holds. */
export const STORED_BLOCK = 65535;
const STORED_BLOCK_HEADER = 5;
/** Tar bytes per generated chunk: 16 stored blocks, just under 1 MiB. */
export const CHUNK_TAR_BYTES = 16 * STORED_BLOCK;
/** The largest chunk a layer stream yields. */
export const MAX_CHUNK_BYTES = GZIP_HEADER.length + 16 * STORED_BLOCK_HEADER + CHUNK_TAR_BYTES + GZIP_TRAILER_LENGTH;

export interface LayerParams {
  /** Bytes in the layer's one file. */
  size: number;
  seed: number;
  /** The layer's position in the image, from 0. */
  index: number;
}

export interface LayerDigests {
  /** sha256 of the gzip blob. */
  digest: string;
  /** Bytes in the gzip blob. */
  size: number;
  /** sha256 of the uncompressed tar, as the image config lists it. */
  diffId: string;
}

/** The path of the random file inside layer `index`. */
export function layerFileName(index: number): string {
  return `random-${index}.bin`;
}

/** Bytes in the gzip blob of a layer whose file holds `size` bytes, known before generating it. */
export function layerBlobSize(size: number): number {
  const tar = tarLength(size);
  return GZIP_HEADER.length + Math.ceil(tar / STORED_BLOCK) * STORED_BLOCK_HEADER + tar + GZIP_TRAILER_LENGTH;
}

/**
 * A layer blob as an async iterable of chunks (each at most MAX_CHUNK_BYTES), regenerated from
 * scratch by every iteration. After an iteration has run to the end, `digests` describes the blob.
 */
export class RandomLayerStream implements AsyncIterable<Buffer> {
  readonly params: Readonly<LayerParams>;
  /** Bytes the blob will have. */
  readonly size: number;
  private completed: LayerDigests | undefined;

  constructor(params: LayerParams) {
    for (const [key, value] of Object.entries(params)) {
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`random layer: ${key} must be a whole number, got ${value}`);
    }
    this.params = { ...params };
    this.size = layerBlobSize(params.size);
  }

  /** The blob's digests, once an iteration has finished; undefined before. */
  get digests(): LayerDigests | undefined {
    return this.completed;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    yield* this.chunks();
  }

  /** The same chunks, synchronously. */
  *chunks(): Generator<Buffer, void, undefined> {
    const { size, seed, index } = this.params;
    const header = tarFileHeader(layerFileName(index), size);
    const source = layerByteSource(seed, index);
    const tarTotal = tarLength(size);
    const dataEnd = TAR_BLOCK + size;
    const tarHash = createHash('sha256');
    const blobHash = createHash('sha256');
    const span = Buffer.allocUnsafe(Math.min(CHUNK_TAR_BYTES, tarTotal));
    let crc = 0;
    let blobBytes = 0;

    for (let start = 0; start < tarTotal; start += CHUNK_TAR_BYTES) {
      const end = Math.min(start + CHUNK_TAR_BYTES, tarTotal);
      const tar = span.subarray(0, end - start);
      // The three regions of the tar that this span overlaps: header, file content, zeros.
      if (start < TAR_BLOCK) header.copy(tar, 0, start, Math.min(end, TAR_BLOCK));
      const dataFrom = Math.max(start, TAR_BLOCK);
      const dataTo = Math.min(end, dataEnd);
      if (dataFrom < dataTo) source.fill(tar.subarray(dataFrom - start, dataTo - start));
      const zeroFrom = Math.max(start, dataEnd, TAR_BLOCK);
      if (zeroFrom < end) tar.fill(0, zeroFrom - start);
      tarHash.update(tar);
      crc = crc32(tar, crc);

      const chunk = frame(tar, start === 0, end === tarTotal, crc, tarTotal);
      blobHash.update(chunk);
      blobBytes += chunk.length;
      yield chunk;
    }
    this.completed = {
      digest: `sha256:${blobHash.digest('hex')}`,
      size: blobBytes,
      diffId: `sha256:${tarHash.digest('hex')}`,
    };
  }
}

/** Wraps tar bytes in stored deflate blocks, with the gzip header first and the trailer last. */
function frame(tar: Buffer, first: boolean, last: boolean, crc: number, tarTotal: number): Buffer {
  const blocks = Math.ceil(tar.length / STORED_BLOCK);
  const length =
    (first ? GZIP_HEADER.length : 0) + blocks * STORED_BLOCK_HEADER + tar.length + (last ? GZIP_TRAILER_LENGTH : 0);
  const out = Buffer.allocUnsafe(length);
  let at = first ? GZIP_HEADER.copy(out, 0) : 0;
  for (let from = 0; from < tar.length; from += STORED_BLOCK) {
    const to = Math.min(from + STORED_BLOCK, tar.length);
    const n = to - from;
    out[at] = last && to === tar.length ? 1 : 0; // BFINAL on the very last block, BTYPE 00 (stored)
    out.writeUInt16LE(n, at + 1);
    out.writeUInt16LE(~n & 0xffff, at + 3);
    at += STORED_BLOCK_HEADER;
    at += tar.copy(out, at, from, to);
  }
  if (last) {
    out.writeUInt32LE(crc >>> 0, at);
    out.writeUInt32LE(tarTotal % 2 ** 32, at + 4);
  }
  return out;
}
