// Memory that a body's source reuses: a stream body may yield a LentChunk, and the response writer
// gives it back once the socket has taken its bytes, so a source that sends a GiB through a few
// blocks allocates (and the garbage collector collects) a few blocks, not a GiB. Everything else
// treats a LentChunk as the Uint8Array it is. A piece cut from one (subarray, what a fault's reshaping
// does) is an ordinary view and is never given back: memory is reused only once nothing else can hold
// it, and a chunk given back twice is given back once.
export class LentChunk extends Uint8Array {
  /** Views cut from a lent chunk are plain ones (see above). */
  static get [Symbol.species](): Uint8ArrayConstructor {
    return Uint8Array;
  }

  private back: (() => void) | undefined;

  constructor(memory: ArrayBuffer, offset: number, length: number, giveBack: () => void) {
    super(memory, offset, length);
    this.back = giveBack;
  }

  /** For the writer, once the bytes are sent (or the connection is gone). */
  giveBack(): void {
    const back = this.back;
    this.back = undefined;
    back?.();
  }
}

/**
 * Buffers of one size kept for reuse; only buffers it gave out are taken back, each once, and at
 * most maxSpare wait at a time (more go to the garbage collector).
 */
export class BufferPool {
  /** Buffers made so far (not taken from the spare ones): what a test or a bench reads to see reuse. */
  made = 0;
  private readonly spare: Buffer[] = [];
  private readonly out = new WeakSet<ArrayBuffer>();

  constructor(
    readonly size: number,
    private readonly maxSpare: number,
  ) {}

  /** A buffer of size bytes, at offset 0 of memory of its own. */
  take(): Buffer {
    let buffer = this.spare.pop();
    if (!buffer) {
      buffer = Buffer.allocUnsafeSlow(this.size);
      this.made++;
    }
    this.out.add(buffer.buffer as ArrayBuffer);
    return buffer;
  }

  /** Whether memory is one of this pool's buffers, given out and not back yet. */
  owns(memory: ArrayBufferLike): memory is ArrayBuffer {
    return memory instanceof ArrayBuffer && this.out.has(memory);
  }

  give(memory: ArrayBuffer): void {
    if (!this.out.delete(memory)) return;
    if (this.spare.length < this.maxSpare) this.spare.push(Buffer.from(memory));
  }

  /** The first length bytes of buffer (taken from here), lent to the writer: back here once written. */
  lend(buffer: Buffer, length: number): LentChunk {
    const memory = buffer.buffer as ArrayBuffer;
    return new LentChunk(memory, 0, length, () => this.give(memory));
  }

  /** Parts (at most size bytes in all) copied into one of the pool's buffers, lent to the writer. */
  lendCopy(parts: readonly Uint8Array[]): LentChunk {
    const buffer = this.take();
    let length = 0;
    for (const part of parts) {
      buffer.set(part, length);
      length += part.length;
    }
    return this.lend(buffer, length);
  }
}
