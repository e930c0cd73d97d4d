// A blob sink that hashes what it is given and measures how the stream behaves: the largest chunk,
// the chunk count, and the peak growth of external memory (after a major GC every 8 chunks), for
// the tests that a generated layer streams in bounded chunks and bounded memory.
import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { BlobSink } from '../../src/images/random/index.js';

export interface MeasuringSink extends BlobSink {
  /** The most external memory grew above the baseline taken at creation, in bytes. */
  readonly peak: number;
  readonly largest: number;
  readonly chunks: number;
}

export function measuringSink(): MeasuringSink {
  setFlagsFromString('--expose-gc');
  const collectGarbage = runInNewContext('gc') as (options?: object) => void;
  const gc = () => collectGarbage({ type: 'major', execution: 'sync' });
  gc();
  const baseline = process.memoryUsage().arrayBuffers;
  const seen = { peak: 0, largest: 0, chunks: 0 };
  return {
    get peak() {
      return seen.peak;
    },
    get largest() {
      return seen.largest;
    },
    get chunks() {
      return seen.chunks;
    },
    async writeBlob(stream) {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of stream) {
        hash.update(chunk);
        size += chunk.length;
        seen.largest = Math.max(seen.largest, chunk.length);
        if (++seen.chunks % 8 === 0) {
          gc();
          seen.peak = Math.max(seen.peak, process.memoryUsage().arrayBuffers - baseline);
        }
      }
      return { digest: `sha256:${hash.digest('hex')}`, size };
    },
  };
}
