// A BlobSink that keeps blobs in memory, for tests and small tools.
import { createHash } from 'node:crypto';
import type { BlobSink, WrittenBlob } from './image.js';

export class MemoryBlobSink implements BlobSink {
  /** Blobs by digest, in the order they were first written. */
  readonly blobs = new Map<string, Buffer>();

  async writeBlob(stream: AsyncIterable<Uint8Array>): Promise<WrittenBlob> {
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    for await (const chunk of stream) {
      hash.update(chunk);
      chunks.push(Buffer.from(chunk));
    }
    const bytes = Buffer.concat(chunks);
    const digest = `sha256:${hash.digest('hex')}`;
    if (!this.blobs.has(digest)) this.blobs.set(digest, bytes);
    return { digest, size: bytes.length };
  }

  /** The blob with that digest; throws when it was never written. */
  get(digest: string): Buffer {
    const blob = this.blobs.get(digest);
    if (!blob) throw new Error(`no blob ${digest} in memory`);
    return blob;
  }
}
