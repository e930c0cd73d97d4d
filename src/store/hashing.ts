// A pass-through stream that hashes and counts what flows through it.
import { Transform, type TransformCallback } from 'node:stream';
import { createHash, type Hash } from 'node:crypto';

export class HashingStream extends Transform {
  size = 0;

  /** Feeds every chunk to each of hashes (none: it only counts). */
  constructor(private readonly hashes: Hash[]) {
    super({ highWaterMark: 1 << 20 });
  }

  /** A stream with one fresh hash of the algorithm, returned beside it. */
  static of(algorithm: string): { stream: HashingStream; hash: Hash } {
    const hash = createHash(algorithm);
    return { stream: new HashingStream([hash]), hash };
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    for (const hash of this.hashes) hash.update(chunk);
    this.size += chunk.length;
    callback(null, chunk);
  }
}
