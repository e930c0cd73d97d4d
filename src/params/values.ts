// The value parsers: for tag parameters, rules and flags alike. Each throws an Error saying what is
// wrong with the value; the caller adds where the value came from (the tag parser the parameter's name,
// the CLI the flag's: parseFlag in cli-error.ts).
import { formatDuration, parseDuration } from './duration.js';
import { formatSize, parseSize } from './size.js';
import type { ValueParser } from './tag-params.js';

/** Whole numbers written as plain digits (no sign, fraction, exponent or hex), from min to max. */
export function wholeNumber(options: { min?: number; max?: number } = {}): ValueParser<number> {
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  return (text) => {
    const value = /^[0-9]+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new Error(`${JSON.stringify(text)} is not a whole number from ${min} to ${max}`);
    }
    return value;
  };
}

/** Sizes as parseSize reads them (1024, 512k, 100m, 1g), at most max bytes. */
export function byteSize(options: { max?: number; limitName?: string } = {}): ValueParser<number> {
  return (text) => {
    const bytes = parseSize(text);
    if (options.max !== undefined && bytes > options.max) {
      const limit = options.limitName ? ` (${options.limitName})` : '';
      throw new Error(`${text} is more than the limit of ${formatSize(options.max)}${limit}`);
    }
    return bytes;
  };
}

export interface DurationRange {
  /** The shortest allowed, in ms; default 0, no negative durations. */
  min?: number;
  /** Zero is refused too (a timeout or lifetime of nothing). */
  positive?: boolean;
  /** The longest allowed, in ms. */
  max?: number;
  /** Why max is the limit, said after it: `the limit of 24h0m0s (24h)`. */
  limitName?: string;
  /** The flag that sets max, when it is one: `longer than --max-timeout 1m0s`. */
  limitFlag?: string;
}

/** Go durations in milliseconds, within the range. */
export function duration(range: DurationRange = {}): ValueParser<number> {
  const min = range.min ?? 0;
  return (text) => {
    const ms = parseDuration(text);
    if (ms < min) throw new Error(`${text} is less than ${formatDuration(min)}${min === 0 ? ': a duration is never negative' : ''}`);
    if (range.positive && ms <= 0) throw new Error(`${text} must be longer than zero`);
    if (range.max !== undefined && ms > range.max) {
      if (range.limitFlag) throw new Error(`${text} is longer than ${range.limitFlag} ${formatDuration(range.max)}`);
      const limit = range.limitName ? ` (${range.limitName})` : '';
      throw new Error(`${text} is longer than the limit of ${formatDuration(range.max)}${limit}`);
    }
    return ms;
  };
}

/** TCP ports, 0 (any free port) to 65535. */
export const port: ValueParser<number> = (text) => {
  if (!/^[0-9]+$/.test(text) || Number(text) > 65535) throw new Error(`${JSON.stringify(text)} is not a port number (0-65535)`);
  return Number(text);
};
