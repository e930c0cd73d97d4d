// A request body's chunks, once written to a file, are freed at once instead of waiting for the
// garbage collector. Node's HTTP parser hands over every piece of a body as a new buffer of its own
// (up to 64 KiB, 16,384 per GiB) and keeps none of them. V8 counts that memory until a collection
// finds it dead, and counts it against the old generation's room too: at a push's pace that was
// 20–42 full collections per GiB, a CPU-second of V8's threads, and 16–47 MB of dead buffers
// (bench/README.md, bench:registry). A buffer transferred through a closed MessagePort is detached
// and its memory dropped there and then: a message to a closed port is still serialized, transfers
// included, and then discarded, as the HTML structured-clone rules that Node follows say.
import { MessageChannel } from 'node:worker_threads';

const OWNED = Symbol('chunks owned by their reader');

/**
 * Marks a stream whose chunks nothing else keeps once they are read: a request body read straight
 * from its socket. receiveToFile frees the memory of such a stream's chunks once they are written.
 * Never mark a stream whose chunks are also kept elsewhere (a proxy's read-along window).
 */
export function ownedByReader<T extends object>(stream: T): T {
  (stream as { [OWNED]?: true })[OWNED] = true;
  return stream;
}

export function isOwnedByReader(stream: object): boolean {
  return (stream as { [OWNED]?: true })[OWNED] === true;
}

export type FreeChunks = (chunks: readonly Uint8Array[]) => void;

/**
 * A function that frees chunks now: only those that are all of an ArrayBuffer (a view of part of one
 * may share it with bytes still in use), and not one already detached.
 */
export function chunkFreer(): FreeChunks {
  const { port1, port2 } = new MessageChannel();
  port1.close();
  port2.close();
  return (chunks) => {
    const buffers: ArrayBuffer[] = [];
    for (const chunk of chunks) {
      const memory = chunk.buffer;
      if (memory instanceof ArrayBuffer && memory.byteLength > 0 && chunk.byteOffset === 0 && chunk.byteLength === memory.byteLength) buffers.push(memory);
    }
    if (buffers.length === 0) return;
    try {
      port1.postMessage(null, buffers); // one marked untransferable (markAsUntransferable) stays as it is
    } catch {
      // Refused for another reason: all of them are left to the collector, as before.
    }
  };
}
