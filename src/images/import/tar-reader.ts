// Reads an image tarball as a stream, one entry at a time: small metadata files (index.json,
// manifest.json, oci-layout, repositories) are kept in memory with a size cap, every other regular
// file is streamed straight into the store through ImportedBlobs, so memory stays bounded whatever the
// size of the layers. A gzip-compressed tarball is decompressed on the way.
import path from 'node:path/posix';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tarStream, { type Header } from 'tar-stream';
import { parseDigest } from '../../oci/digest.js';
import type { ImportedBlobs } from './imported-blobs.js';
import { ImportError, MAX_METADATA_BYTES, type TarContents } from './types.js';

export const METADATA_FILES: ReadonlySet<string> = new Set(['oci-layout', 'index.json', 'manifest.json', 'repositories']);
const BLOB_PATH = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/;
/** Per-layer leftovers of the legacy docker save format that no image needs. */
const IGNORED = /^[a-f0-9]{64}\/(json|VERSION)$/;

/** A tar entry as tar-stream yields it: its header and its content. */
type Entry = AsyncIterable<Buffer> & { header: Header };

export interface ReadOptions {
  /** Called with the number of bytes read from the input so far (compressed bytes if gzipped). */
  onProgress?: (bytesRead: number) => void;
  signal?: AbortSignal;
}

export async function readTarball(input: Readable, blobs: ImportedBlobs, options: ReadOptions = {}): Promise<TarContents> {
  const contents: TarContents = { files: new Map(), metadata: new Map(), links: new Map(), bytesRead: 0 };
  const counter = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      contents.bytesRead += chunk.length;
      options.onProgress?.(contents.bytesRead);
      callback(null, chunk);
    },
  });
  const extract = tarStream.extract();
  const feeding = pipeline(input, counter, gunzipIfNeeded, extract, { signal: options.signal });
  feeding.catch(() => undefined);
  try {
    for await (const entry of extract) {
      await readEntry(entry as unknown as Entry, contents, blobs);
    }
    await feeding;
  } catch (error) {
    extract.destroy();
    input.destroy();
    await feeding.catch(() => undefined);
    throw asImportError(error);
  }
  return contents;
}

async function readEntry(entry: Entry, contents: TarContents, blobs: ImportedBlobs): Promise<void> {
  const { header } = entry;
  const name = normalize(header.name);
  const type = header.type ?? 'file';
  if ((type === 'symlink' || type === 'link') && header.linkname) {
    const target = type === 'symlink' ? path.join(path.dirname(name), header.linkname) : header.linkname;
    contents.links.set(name, normalize(target));
  }
  if ((type !== 'file' && type !== 'contiguous-file') || name === '' || IGNORED.test(name)) {
    for await (const _chunk of entry) {
      // skipped: directories, devices, links and per-layer leftovers carry nothing we store
    }
    return;
  }
  if (METADATA_FILES.has(name)) {
    if ((header.size ?? 0) > MAX_METADATA_BYTES) {
      throw new ImportError(`${name} is ${header.size} bytes, more than the ${MAX_METADATA_BYTES} allowed`);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk);
    contents.metadata.set(name, Buffer.concat(chunks));
    return;
  }
  const blob = BLOB_PATH.exec(name);
  const claimed = blob ? parseDigest(`${blob[1]}:${blob[2]}`) : undefined;
  contents.files.set(name, await blobs.ingest(entry, name, claimed));
}

/** Resolves a path through the tar's links (docker save links identical layers to one file). */
export function resolvePath(contents: TarContents, name: string): string {
  let current = normalize(name);
  for (let hops = 0; hops < 16 && !contents.files.has(current); hops++) {
    const next = contents.links.get(current);
    if (next === undefined) break;
    current = next;
  }
  return current;
}

function normalize(name: string): string {
  const cleaned = path.normalize(name.replace(/^\/+/, ''));
  return cleaned === '.' ? '' : cleaned.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}

async function* gunzipIfNeeded(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) return;
  const firstChunk: Buffer = first.value;
  async function* everything(): AsyncGenerator<Buffer> {
    yield firstChunk;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  if (firstChunk[0] !== 0x1f || firstChunk[1] !== 0x8b) {
    yield* everything();
    return;
  }
  const gunzip = createGunzip({ chunkSize: 1 << 20 });
  const pumping = pipeline(everything, gunzip);
  pumping.catch(() => undefined);
  for await (const chunk of gunzip) yield chunk as Buffer;
  await pumping;
}

function asImportError(error: unknown): Error {
  if (error instanceof ImportError) return error;
  const err = error as NodeJS.ErrnoException;
  if (err.name === 'AbortError') return new ImportError('import interrupted');
  const message = err.message ?? String(error);
  if (/Unexpected end of data/i.test(message)) return new ImportError('the tarball is truncated (unexpected end of data)');
  if (/Invalid tar header/i.test(message)) return new ImportError('not a tar archive (invalid tar header)');
  if (err.code === 'Z_DATA_ERROR' || err.code === 'Z_BUF_ERROR') return new ImportError(`the gzip stream is corrupt: ${message}`);
  return err instanceof Error ? err : new Error(message);
}
