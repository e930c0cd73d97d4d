// Value parsers for tag parameters. Each throws an Error saying what is wrong with the value; the tag
// parser adds the parameter's name.
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

/** Go durations in milliseconds, from min (default 0: no negatives) to max. */
export function duration(options: { min?: number; max?: number; limitName?: string } = {}): ValueParser<number> {
  const min = options.min ?? 0;
  return (text) => {
    const ms = parseDuration(text);
    if (ms < min) throw new Error(`${text} is less than ${formatDuration(min)}`);
    if (options.max !== undefined && ms > options.max) {
      const limit = options.limitName ? ` (${options.limitName})` : '';
      throw new Error(`${text} is longer than the limit of ${formatDuration(options.max)}${limit}`);
    }
    return ms;
  };
}
