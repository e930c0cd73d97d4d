// The tar framing of a layer, written byte by byte so it never changes:
//
//   for each file: [ustar header, 512 bytes][file content][zeros to a 512 multiple]
//   then:          [two 512-byte zero blocks]
//
// The header is a POSIX ustar header for a regular file, mode 0644, uid/gid 0, no owner names, mtime 0.
// Sizes past the 11 octal digits a ustar header holds (8 GiB) use the GNU base-256 form.

export const TAR_BLOCK = 512;
const END_OF_ARCHIVE = 2 * TAR_BLOCK;
const MAX_OCTAL_SIZE = 8 ** 11 - 1;

/** Bytes of a tar holding `files` files whose contents add up to `size` bytes, split as fileSize says. */
export function tarLength(size: number, files = 1): number {
  const base = Math.floor(size / files);
  const longer = size % files; // files holding base + 1 bytes
  return files * TAR_BLOCK + longer * padded(base + 1) + (files - longer) * padded(base) + END_OF_ARCHIVE;
}

/** Bytes in file `file` (from 0) when `size` bytes are split over `files`: the first ones get one more. */
export function fileSize(size: number, files: number, file: number): number {
  return Math.floor(size / files) + (file < size % files ? 1 : 0);
}

/** Bytes a file's content takes in the tar: whole 512-byte blocks. */
export function padded(size: number): number {
  return Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
}

/** The two zero blocks that end every archive. */
export const END_OF_ARCHIVE_BYTES = END_OF_ARCHIVE;

/** The 512-byte header of a regular file `name` of `size` bytes. */
export function tarFileHeader(name: string, size: number): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length === 0 || nameBytes.length > 100) throw new RangeError(`tar name must be 1-100 bytes: ${name}`);
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`tar size must be a whole number of bytes: ${size}`);
  const header = Buffer.alloc(TAR_BLOCK);
  nameBytes.copy(header, 0); //                 name[100]
  octal(header, 100, 8, 0o644); //              mode
  octal(header, 108, 8, 0); //                  uid
  octal(header, 116, 8, 0); //                  gid
  if (size <= MAX_OCTAL_SIZE) octal(header, 124, 12, size); // size
  else base256(header, 124, 12, size);
  octal(header, 136, 12, 0); //                 mtime
  header.fill(0x20, 148, 156); //               chksum: spaces while summing
  header.write('0', 156, 'latin1'); //          typeflag: regular file
  header.write('ustar\u000000', 257, 'latin1'); // magic "ustar\0", version "00"
  octal(header, 329, 8, 0); //                  devmajor
  octal(header, 337, 8, 0); //                  devminor
  return withChecksum(header);
}

/** Writes a ustar header's checksum (the sum of its bytes, the field counted as spaces) and returns it. */
export function withChecksum(header: Buffer): Buffer {
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'latin1');
  return header;
}

/** Writes value as zero-padded octal digits filling the field but its last byte, which stays NUL. */
export function octal(header: Buffer, offset: number, length: number, value: number): void {
  header.write(value.toString(8).padStart(length - 1, '0'), offset, length - 1, 'latin1');
}

/** GNU base-256: the high bit of the first byte set, the value big-endian in the rest. */
export function base256(header: Buffer, offset: number, length: number, value: number): void {
  let rest = BigInt(value);
  for (let i = offset + length - 1; i > offset; i--) {
    header[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  header[offset] = 0x80;
}
