// What a command reads and writes outside itself. cli.ts hands the process's own to every command;
// nothing under commands/ touches `process`, so a command can run against any streams and signals.
import type { Readable } from 'node:stream';
import type { UiStreams } from '../ui.js';

export interface Io extends UiStreams {
  stdin: Readable;
  signals: Signals;
}

export interface Signals {
  /**
   * Calls stop once, on the first SIGINT or SIGTERM, and stops listening then; a second signal ends
   * the process at once, as if nobody listened. Returns a function that stops listening earlier.
   */
  onStop(stop: (signal: NodeJS.Signals) => void): () => void;
}
