// Compression framed by hand, so the bytes never depend on a zlib or zstd version: gzip of stored
// deflate blocks (as src/images/random/layer.ts writes its layers) and zstd frames of raw blocks.
// Both are real streams that any standard decoder reads; neither makes the data smaller, which the
// tiny layers of the corpus do not need.
import { crc32 } from '../random/crc32.js';

/** Magic, deflate, no flags, mtime 0, no XFL, OS "unknown". */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff]);
const STORED_BLOCK = 65535;

/**
 * gzip: the header, stored deflate blocks ([BFINAL|BTYPE=00] [LEN u16le] [~LEN u16le] [bytes]),
 * then the CRC-32 and length of the data (u32le each).
 */
export function gzipStored(data: Uint8Array): Buffer {
  const parts: Buffer[] = [GZIP_HEADER];
  let from = 0;
  do {
    const to = Math.min(from + STORED_BLOCK, data.length);
    const block = Buffer.alloc(5);
    block[0] = to === data.length ? 1 : 0;
    block.writeUInt16LE(to - from, 1);
    block.writeUInt16LE(~(to - from) & 0xffff, 3);
    parts.push(block, Buffer.from(data.subarray(from, to)));
    from = to;
  } while (from < data.length);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data) >>> 0, 0);
  trailer.writeUInt32LE(data.length % 2 ** 32, 4);
  parts.push(trailer);
  return Buffer.concat(parts);
}

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
/** The largest block a zstd frame may hold (RFC 8878, Block_Maximum_Size). */
const ZSTD_MAX_BLOCK = 128 * 1024;

/**
 * A zstd frame (RFC 8878) of raw blocks: the magic; a frame header descriptor 0xA0 (a 4-byte content
 * size, single segment so no window descriptor, no checksum, no dictionary); the content size
 * (u32le); then blocks, each a 3-byte header (Last_Block, Block_Type 0 = raw, Block_Size) and the bytes.
 */
export function zstdRaw(data: Uint8Array): Buffer {
  if (data.length >= 2 ** 32) throw new RangeError('zstdRaw: at most 4 GiB');
  const header = Buffer.alloc(5);
  header[0] = 0xa0;
  header.writeUInt32LE(data.length, 1);
  const parts: Buffer[] = [ZSTD_MAGIC, header];
  let from = 0;
  do {
    const to = Math.min(from + ZSTD_MAX_BLOCK, data.length);
    const last = to === data.length ? 1 : 0;
    const blockHeader = Buffer.alloc(3);
    blockHeader.writeUIntLE(((to - from) << 3) | last, 0, 3);
    parts.push(blockHeader, Buffer.from(data.subarray(from, to)));
    from = to;
  } while (from < data.length);
  return Buffer.concat(parts);
}
