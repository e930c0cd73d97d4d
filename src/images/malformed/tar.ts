// Tar archives of a few small entries, written byte by byte so the bytes never change, with the
// freedom the malformed corpus needs: any name (`../x`, `/x`), symlinks and hardlinks to anywhere,
// and a header whose size field says something other than the bytes that follow.
//
//   [ustar header, 512 bytes][content][zeros to a 512 multiple] ... [two 512-byte zero blocks]
//
// Headers are POSIX ustar: uid/gid 0, no owner names, mtime 0. Sizes past the 11 octal digits a ustar
// header holds (8 GiB) use the GNU base-256 form, as Go's archive/tar and GNU tar read it.

import { TAR_BLOCK, base256, octal, withChecksum } from '../random/tar.js';

export { TAR_BLOCK };
const MAX_OCTAL_SIZE = 8 ** 11 - 1;

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink';

export interface TarEntry {
  name: string;
  type: TarEntryType;
  /** A file's content (empty for the other types). */
  content?: Uint8Array;
  /** Where a symlink or hardlink points. */
  linkname?: string;
  /** Permission bits; 0644 for files, 0755 for directories by default. */
  mode?: number;
  /** The size the header claims, when it is not the content's length (a lying header). */
  claimedSize?: number;
}

const TYPEFLAG: Record<TarEntryType, string> = { file: '0', hardlink: '1', symlink: '2', dir: '5' };

/** A file entry with UTF-8 content. */
export function file(name: string, content: string | Uint8Array): TarEntry {
  return { name, type: 'file', content: typeof content === 'string' ? Buffer.from(content, 'utf8') : content };
}

export function dir(name: string): TarEntry {
  return { name, type: 'dir' };
}

/** The 512-byte ustar header of an entry. */
export function tarHeader(entry: TarEntry): Buffer {
  const name = Buffer.from(entry.name, 'utf8');
  const linkname = Buffer.from(entry.linkname ?? '', 'utf8');
  if (name.length === 0 || name.length > 100) throw new RangeError(`tar name must be 1-100 bytes: ${entry.name}`);
  if (linkname.length > 100) throw new RangeError(`tar linkname must be at most 100 bytes: ${entry.linkname}`);
  const size = entry.claimedSize ?? entry.content?.length ?? 0;
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`tar size must be a whole number of bytes: ${size}`);
  const header = Buffer.alloc(TAR_BLOCK);
  name.copy(header, 0); //                                     name[100]
  octal(header, 100, 8, entry.mode ?? (entry.type === 'dir' ? 0o755 : 0o644)); // mode
  octal(header, 108, 8, 0); //                                 uid
  octal(header, 116, 8, 0); //                                 gid
  if (size <= MAX_OCTAL_SIZE) octal(header, 124, 12, size); // size
  else base256(header, 124, 12, size);
  octal(header, 136, 12, 0); //                                mtime
  header.fill(0x20, 148, 156); //                              chksum: spaces while summing
  header.write(TYPEFLAG[entry.type], 156, 'latin1'); //        typeflag
  linkname.copy(header, 157); //                               linkname[100]
  header.write('ustar\u000000', 257, 'latin1'); //             magic "ustar\0", version "00"
  octal(header, 329, 8, 0); //                                 devmajor
  octal(header, 337, 8, 0); //                                 devminor
  return withChecksum(header);
}

/**
 * A whole archive: each entry's header and content padded to a block, then the end-of-archive
 * blocks. With `end: false` the archive stops after the last entry's bytes (for a header that claims
 * more than follows, so the archive ends inside that entry's content).
 */
export function tarArchive(entries: readonly TarEntry[], options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(tarHeader(entry));
    const content = entry.content ?? new Uint8Array(0);
    if (content.length > 0) {
      parts.push(Buffer.from(content));
      const pad = (TAR_BLOCK - (content.length % TAR_BLOCK)) % TAR_BLOCK;
      if (pad > 0) parts.push(Buffer.alloc(pad));
    }
  }
  if (options.end ?? true) parts.push(Buffer.alloc(2 * TAR_BLOCK));
  return Buffer.concat(parts);
}
