// One random layer blob: a tar of files of random bytes, framed as gzip, zstd or nothing
// (framing.ts), generated in ~1 MiB chunks.
//
// The tar bytes are hashed (the diff_id) while the blob bytes are hashed (the blob digest), so one pass
// produces the blob and everything the config and manifest say about it. Without compression the blob
// is the tar, and is hashed once.
import { createHash } from 'node:crypto';
import { ByteReader, layerByteSource } from './byte-source.js';
import { crc32 } from './crc32.js';
import { framingOf, MAX_CHUNK_BYTES, type Framing } from './framing.js';
import type { Compression } from './params.js';
import { END_OF_ARCHIVE_BYTES, TAR_BLOCK, fileSize, padded, tarFileHeader, tarLength } from './tar.js';

export { MAX_CHUNK_BYTES };

export interface LayerParams {
  /** Bytes of random content in the layer, split over its files. */
  size: number;
  seed: number;
  /** The layer's position in the image, from 0. */
  index: number;
  /** Files in the layer (default 1). */
  files?: number;
  /** Default gzip. */
  compression?: Compression;
  /** The platform of the image in an index (`linux/arm64`), which picks other bytes; default linux/amd64. */
  platform?: string;
}

export interface LayerDigests {
  /** sha256 of the blob. */
  digest: string;
  /** Bytes in the blob. */
  size: number;
  /** sha256 of the uncompressed tar, as the image config lists it. */
  diffId: string;
}

/** The path of file `file` of `files` inside layer `index`: `random-0.bin`, or `random-0-12.bin`. */
export function layerFileName(index: number, file = 0, files = 1): string {
  return files === 1 ? `random-${index}.bin` : `random-${index}-${file}.bin`;
}

/** Bytes in the blob of a layer with `size` bytes of content in `files` files, known before generating it. */
export function layerBlobSize(size: number, files = 1, compression: Compression = 'gzip'): number {
  return framingOf(compression).blobSize(tarLength(size, files));
}

/**
 * A layer blob as an async iterable of chunks (each at most MAX_CHUNK_BYTES), regenerated from
 * scratch by every iteration. After an iteration has run to the end, `digests` describes the blob.
 */
export class RandomLayerStream implements AsyncIterable<Buffer> {
  readonly params: Readonly<Required<Omit<LayerParams, 'platform'>>> & { readonly platform?: string };
  /** Bytes the blob will have. */
  readonly size: number;
  private readonly framing: Framing;
  private completed: LayerDigests | undefined;

  constructor(params: LayerParams) {
    const { platform, compression = 'gzip', ...numbers } = params;
    const files = numbers.files ?? 1;
    for (const [key, value] of Object.entries({ ...numbers, files })) {
      if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`random layer: ${key} must be a whole number, got ${value}`);
    }
    if (files < 1) throw new RangeError('random layer: files must be at least 1');
    this.params = { size: numbers.size, seed: numbers.seed, index: numbers.index, files, compression, ...(platform ? { platform } : {}) };
    this.framing = framingOf(compression);
    this.size = this.framing.blobSize(tarLength(numbers.size, files));
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
    const framing = this.framing;
    const { size, files } = this.params;
    const tarTotal = tarLength(size, files);
    const tarWriter = new TarWriter(this.params);
    const tarHash = createHash('sha256');
    const blobHash = framing.inPlace ? undefined : createHash('sha256');
    const spanBytes = Math.min(framing.spanBytes, tarTotal);
    const reused = framing.inPlace ? undefined : Buffer.allocUnsafe(spanBytes);
    let crc = 0;
    let blobBytes = 0;

    for (let start = 0; start < tarTotal; start += framing.spanBytes) {
      const end = Math.min(start + framing.spanBytes, tarTotal);
      const tar = (reused ?? Buffer.allocUnsafe(spanBytes)).subarray(0, end - start);
      tarWriter.write(tar);
      tarHash.update(tar);
      if (framing.needsCrc) crc = crc32(tar, crc);
      const chunk = framing.frame(tar, start === 0, end === tarTotal, crc, tarTotal);
      blobHash?.update(chunk);
      blobBytes += chunk.length;
      yield chunk;
    }
    const diffId = `sha256:${tarHash.digest('hex')}`;
    this.completed = { digest: blobHash ? `sha256:${blobHash.digest('hex')}` : diffId, size: blobBytes, diffId };
  }
}

/**
 * Writes the tar of a layer span by span, in order: for each file its header, its share of the layer's
 * random stream and the zeros to a block boundary, then the end-of-archive blocks.
 */
class TarWriter {
  private readonly reader: ByteReader;
  private readonly files: number;
  private readonly size: number;
  private readonly index: number;
  /** The file being written (files when only the end of the archive is left), where it starts in the tar. */
  private file = 0;
  private fileStart = 0;
  private fileBytes: number;
  private header: Buffer;
  /** Tar bytes written so far. */
  private offset = 0;

  constructor(params: { size: number; seed: number; index: number; files: number; platform?: string }) {
    this.reader = new ByteReader(layerByteSource(params.seed, params.index, params.platform));
    this.files = params.files;
    this.size = params.size;
    this.index = params.index;
    this.fileBytes = fileSize(this.size, this.files, 0);
    this.header = tarFileHeader(layerFileName(this.index, 0, this.files), this.fileBytes);
  }

  /** Fills target with the next target.length tar bytes. */
  write(target: Buffer): void {
    const start = this.offset;
    const end = start + target.length;
    while (this.file < this.files && this.fileStart < end) {
      const dataStart = this.fileStart + TAR_BLOCK;
      const dataEnd = dataStart + this.fileBytes;
      const fileEnd = dataStart + padded(this.fileBytes);
      // The three regions of this file that the span overlaps: header, content, zeros.
      const headerFrom = Math.max(start, this.fileStart);
      const headerTo = Math.min(end, dataStart);
      if (headerFrom < headerTo) this.header.copy(target, headerFrom - start, headerFrom - this.fileStart, headerTo - this.fileStart);
      const dataFrom = Math.max(start, dataStart);
      const dataTo = Math.min(end, dataEnd);
      if (dataFrom < dataTo) this.reader.read(target.subarray(dataFrom - start, dataTo - start));
      const zeroFrom = Math.max(start, dataEnd);
      const zeroTo = Math.min(end, fileEnd);
      if (zeroFrom < zeroTo) target.fill(0, zeroFrom - start, zeroTo - start);
      if (fileEnd > end) break; // the file goes on in the next span
      this.nextFile(fileEnd);
    }
    if (this.file === this.files) {
      const zeroFrom = Math.max(start, this.fileStart);
      if (zeroFrom < end) target.fill(0, zeroFrom - start);
      if (end > this.fileStart + END_OF_ARCHIVE_BYTES) throw new Error('random layer: tar written past its end');
    }
    this.offset = end;
  }

  private nextFile(start: number): void {
    this.file++;
    this.fileStart = start;
    if (this.file === this.files) return;
    this.fileBytes = fileSize(this.size, this.files, this.file);
    this.header = tarFileHeader(layerFileName(this.index, this.file, this.files), this.fileBytes);
  }
}
