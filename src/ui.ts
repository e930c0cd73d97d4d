// The one place chalk and ora are used. Colour and spinners only on a terminal; NO_COLOR honoured.
// Data goes to stdout, progress and diagnostics to stderr.
import { Chalk, type ChalkInstance } from 'chalk';
import ora from 'ora';

export interface Progress {
  update(text: string): void;
  succeed(text: string): void;
  fail(text: string): void;
}

export interface Ui {
  color: ChalkInstance;
  /** Writes a line of data to stdout. */
  print(line: string): void;
  /** Writes a line of diagnostics to stderr. */
  note(line: string): void;
  /** A spinner on a terminal; silent otherwise (the caller prints its own plain result lines). */
  progress(text: string): Progress;
}

/** A stream as the UI needs it: a terminal (tty.WriteStream) says so with isTTY and its width. */
type OutStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface UiStreams {
  stdout: OutStream;
  stderr: OutStream;
  env: NodeJS.ProcessEnv;
}

/**
 * Narrower than this, a spinner line wraps on every frame; and ora divides by the width to count the
 * lines it must clear, so a terminal that reports 0 columns (`script`, some CI runners) makes it
 * clear forever, synchronously, deaf to signals.
 */
const MIN_COLUMNS = 20;

export function createUi({ stdout, stderr, env }: UiStreams): Ui {
  const colorAllowed = Boolean(stdout.isTTY) && !env.NO_COLOR && env.TERM !== 'dumb';
  const color = new Chalk({ level: colorAllowed ? 1 : 0 });
  const spinners = Boolean(stderr.isTTY) && !env.CI && env.TERM !== 'dumb';
  return {
    color,
    print: (line) => void stdout.write(`${line}\n`),
    note: (line) => void stderr.write(`${line}\n`),
    progress: (text) => (spinners && wideEnough(stderr) ? spinner(stderr as NodeJS.WriteStream, text) : silentProgress),
  };
}

function wideEnough(stream: OutStream): boolean {
  return (stream.columns ?? 0) >= MIN_COLUMNS;
}

/** An ora spinner that stops for good, without a last frame, when the terminal becomes too narrow. */
function spinner(stream: NodeJS.WriteStream, text: string): Progress {
  // discardStdin off: stdin is the command's input (prepare -), and Ctrl+C must stay a real SIGINT.
  const spin = ora({ text, stream, color: 'cyan', discardStdin: false }).start();
  let live = true;
  const end = (finish: () => void) => {
    if (!live) return;
    live = false;
    stream.off('resize', onResize);
    finish();
  };
  // 'resize' comes synchronously after the new width is set, so this runs before the next frame; the
  // stop clears only the lines the previous frame, drawn at a sane width, left.
  const onResize = () => {
    if (!wideEnough(stream)) end(() => spin.stop());
  };
  stream.on('resize', onResize);
  return {
    update: (next) => {
      if (live) spin.text = next;
    },
    succeed: (done) => end(() => spin.succeed(done)),
    fail: (failed) => end(() => spin.fail(failed)),
  };
}

const silentProgress: Progress = { update() {}, succeed() {}, fail() {} };
