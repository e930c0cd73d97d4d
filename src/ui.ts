// The one place chalk and ora are used. Colour and spinners only on a terminal; NO_COLOR honoured.
// Data goes to `out` (stdout), progress and diagnostics to `err` (stderr).
import { Chalk, type ChalkInstance } from 'chalk';
import ora from 'ora';

export interface Progress {
  update(text: string): void;
  succeed(text: string): void;
  fail(text: string): void;
  stop(): void;
}

export interface Ui {
  /** Whether stderr is a terminal (spinners) and stdout is a terminal (tables, colour). */
  interactive: boolean;
  color: ChalkInstance;
  /** Writes a line of data to stdout. */
  print(line: string): void;
  /** Writes a line of diagnostics to stderr. */
  note(line: string): void;
  /** A spinner on a terminal; silent otherwise (the caller prints its own plain result lines). */
  progress(text: string): Progress;
}

export interface UiStreams {
  out: NodeJS.WriteStream | NodeJS.WritableStream;
  err: NodeJS.WriteStream | NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export function createUi({ out, err, env }: UiStreams = { out: process.stdout, err: process.stderr, env: process.env }): Ui {
  const outTty = Boolean((out as NodeJS.WriteStream).isTTY);
  const errTty = Boolean((err as NodeJS.WriteStream).isTTY);
  const colorAllowed = outTty && !env.NO_COLOR && env.TERM !== 'dumb';
  const color = new Chalk({ level: colorAllowed ? 1 : 0 });
  return {
    interactive: outTty,
    color,
    print: (line) => void out.write(`${line}\n`),
    note: (line) => void err.write(`${line}\n`),
    progress: (text) => {
      if (!errTty || env.CI) return silentProgress;
      const spinner = ora({ text, stream: err as NodeJS.WriteStream, color: 'cyan' }).start();
      return {
        update: (next) => void (spinner.text = next),
        succeed: (done) => void spinner.succeed(done),
        fail: (failed) => void spinner.fail(failed),
        stop: () => void spinner.stop(),
      };
    },
  };
}

const silentProgress: Progress = { update() {}, succeed() {}, fail() {}, stop() {} };
