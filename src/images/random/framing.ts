// How a layer's tar becomes its blob, framed by hand so the bytes never depend on a library version.
// Nothing is compressed: every format here has a way to store bytes as they are.
//
// gzip (RFC 1952 around RFC 1951 stored blocks):
//   1f 8b 08 00 | 00 00 00 00 | 00 ff          magic, deflate, no flags, mtime 0, no XFL, OS "unknown"
//   stored deflate blocks of 65535 tar bytes:  [BFINAL|BTYPE=00] [LEN u16le] [~LEN u16le] [bytes]
//   CRC-32 of the tar (u32le), tar length mod 2^32 (u32le)
//
// zstd (RFC 8878), one frame of raw blocks:
//   28 b5 2f fd                magic
//   c0                         frame header descriptor: 8-byte content size, not single-segment, no
//                              checksum, no dictionary
//   38                         window descriptor: 2^17 = 128 KiB, the largest block; decoders need no
//                              more memory than that, however big the layer
//   content size (u64le)       the tar length
//   raw blocks of 131072 tar bytes: [Last_Block | Block_Type=0 (raw) << 1 | Block_Size << 3] (u24le) [bytes]
//   No content checksum (it is optional): the layer digest and the diff_id cover every byte.
//
// none: the tar itself.
import type { Compression } from './params.js';

export interface Framing {
  readonly compression: Compression;
  /** Tar bytes per chunk: whole blocks, so only the very last block of a blob is short. */
  readonly spanBytes: number;
  /** Whether frame() uses the running CRC-32 of the tar (only gzip does; the others skip computing it). */
  readonly needsCrc: boolean;
  /**
   * Whether frame() returns the tar bytes themselves rather than a copy, so the caller must not reuse
   * the span for the next chunk.
   */
  readonly inPlace: boolean;
  /** The largest chunk frame() returns. */
  readonly maxChunk: number;
  /** Bytes of the blob for a tar of tarTotal bytes, known before generating it. */
  blobSize(tarTotal: number): number;
  /** The blob bytes for one span of tar: the header first, the trailer last. */
  frame(tar: Buffer, first: boolean, last: boolean, crc: number, tarTotal: number): Buffer;
}

/** Bytes of one block-structured framing: a header, blocks with a header each, a trailer. */
interface BlockLayout {
  header: number;
  block: number;
  blockHeader: number;
  trailer: number;
  blocksPerSpan: number;
}

function layoutSizes(layout: BlockLayout) {
  const spanBytes = layout.blocksPerSpan * layout.block;
  return {
    spanBytes,
    maxChunk: layout.header + layout.blocksPerSpan * layout.blockHeader + spanBytes + layout.trailer,
    blobSize: (tarTotal: number) => layout.header + Math.ceil(tarTotal / layout.block) * layout.blockHeader + tarTotal + layout.trailer,
  };
}

const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff]);
/** The most bytes one stored deflate block holds. */
export const STORED_BLOCK = 65535;
const GZIP_LAYOUT: BlockLayout = { header: GZIP_HEADER.length, block: STORED_BLOCK, blockHeader: 5, trailer: 8, blocksPerSpan: 16 };

const gzip: Framing = {
  compression: 'gzip',
  needsCrc: true,
  inPlace: false,
  ...layoutSizes(GZIP_LAYOUT),
  frame(tar, first, last, crc, tarTotal) {
    const blocks = Math.ceil(tar.length / STORED_BLOCK);
    const length = (first ? GZIP_HEADER.length : 0) + blocks * GZIP_LAYOUT.blockHeader + tar.length + (last ? GZIP_LAYOUT.trailer : 0);
    const out = Buffer.allocUnsafe(length);
    let at = first ? GZIP_HEADER.copy(out, 0) : 0;
    for (let from = 0; from < tar.length; from += STORED_BLOCK) {
      const to = Math.min(from + STORED_BLOCK, tar.length);
      const n = to - from;
      out[at] = last && to === tar.length ? 1 : 0; // BFINAL on the very last block, BTYPE 00 (stored)
      out.writeUInt16LE(n, at + 1);
      out.writeUInt16LE(~n & 0xffff, at + 3);
      at += GZIP_LAYOUT.blockHeader;
      at += tar.copy(out, at, from, to);
    }
    if (last) {
      out.writeUInt32LE(crc >>> 0, at);
      out.writeUInt32LE(tarTotal % 2 ** 32, at + 4);
    }
    return out;
  },
};

/** Raw blocks may hold up to 128 KiB (Block_Maximum_Size), and at most the window size. */
export const ZSTD_RAW_BLOCK = 128 * 1024;
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];
const ZSTD_FRAME_HEADER_DESCRIPTOR = 0xc0;
const ZSTD_WINDOW_DESCRIPTOR = (17 - 10) << 3; // exponent 7, mantissa 0: 2^17 bytes
const ZSTD_LAYOUT: BlockLayout = { header: 4 + 1 + 1 + 8, block: ZSTD_RAW_BLOCK, blockHeader: 3, trailer: 0, blocksPerSpan: 8 };

const zstd: Framing = {
  compression: 'zstd',
  needsCrc: false,
  inPlace: false,
  ...layoutSizes(ZSTD_LAYOUT),
  frame(tar, first, last, _crc, tarTotal) {
    const blocks = Math.ceil(tar.length / ZSTD_RAW_BLOCK);
    const length = (first ? ZSTD_LAYOUT.header : 0) + blocks * ZSTD_LAYOUT.blockHeader + tar.length;
    const out = Buffer.allocUnsafe(length);
    let at = 0;
    if (first) {
      out.set(ZSTD_MAGIC, 0);
      out[4] = ZSTD_FRAME_HEADER_DESCRIPTOR;
      out[5] = ZSTD_WINDOW_DESCRIPTOR;
      out.writeBigUInt64LE(BigInt(tarTotal), 6);
      at = ZSTD_LAYOUT.header;
    }
    for (let from = 0; from < tar.length; from += ZSTD_RAW_BLOCK) {
      const to = Math.min(from + ZSTD_RAW_BLOCK, tar.length);
      const lastBlock = last && to === tar.length ? 1 : 0;
      out.writeUIntLE(((to - from) << 3) | lastBlock, at, 3); // Block_Type 0: raw
      at += ZSTD_LAYOUT.blockHeader;
      at += tar.copy(out, at, from, to);
    }
    return out;
  },
};

const NONE_SPAN = 1024 * 1024;

const none: Framing = {
  compression: 'none',
  spanBytes: NONE_SPAN,
  needsCrc: false,
  inPlace: true,
  maxChunk: NONE_SPAN,
  blobSize: (tarTotal) => tarTotal,
  frame: (tar) => tar,
};

const FRAMINGS: Record<Compression, Framing> = { gzip, zstd, none };

export function framingOf(compression: Compression): Framing {
  return FRAMINGS[compression];
}

/** The largest chunk any layer stream yields. */
export const MAX_CHUNK_BYTES = Math.max(gzip.maxChunk, zstd.maxChunk, none.maxChunk);
