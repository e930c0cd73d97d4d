// CRC-32 (IEEE 802.3, the gzip trailer's checksum), incremental: crc32(b, crc32(a)) === crc32(a + b).
// Node's native zlib.crc32, which every Node the engines field allows (>= 20.18.1) has; the tests
// check it against a table version of their own (test/helpers/crc32-table.ts).
import zlib from 'node:zlib';

export function crc32(data: Uint8Array, previous = 0): number {
  return zlib.crc32(data, previous);
}
