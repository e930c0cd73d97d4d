// Durations in Go's time.ParseDuration syntax: `300ms`, `1.5h`, `2h45m`, `-1.5h`, `0`.
//
// The grammar is `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or `0`/`-0`/`+0` alone, with the units ns, us,
// µs (U+00B5), μs (U+03BC), ms, s, m and h. Go keeps nanoseconds in an int64, so a value outside
// [-2^63, 2^63-1] ns is an error, and fractions are rounded exactly as Go rounds them (float64 for the
// fractional part, so `0.3333333333333333333h` is exactly 20m). Negative durations parse, as in Go;
// callers that cannot wait a negative time refuse them.

const UNITS: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['\u00b5s', 1_000n],
  ['\u03bcs', 1_000n],
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

const UNIT_LIST = 'ns, us, µs, ms, s, m, h';
const LIMIT = 1n << 63n; // |min int64|; max int64 is LIMIT - 1
const NS_PER_MS = 1_000_000n;

/** Parses a Go duration into milliseconds (fractional below 1ms). Throws an Error saying what is wrong. */
export function parseDuration(text: string): number {
  const nanos = parseDurationNanos(text);
  const whole = nanos / NS_PER_MS;
  return Number(whole) + Number(nanos - whole * NS_PER_MS) / 1e6;
}

/** Parses a Go duration into exact nanoseconds, the value Go's time.ParseDuration returns. */
export function parseDurationNanos(text: string): bigint {
  const fail = (why: string): Error => new Error(`invalid duration ${JSON.stringify(text)}: ${why}`);
  let s = text;
  let negative = false;
  if (s[0] === '-' || s[0] === '+') {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0n;
  if (s === '') {
    throw fail(text === '' ? `empty (write a number with a unit, e.g. 300ms, 5s, 1m30s)` : 'no number after the sign');
  }
  let total = 0n;
  let i = 0;
  while (i < s.length) {
    if (!(s[i] === '.' || isDigit(s, i))) throw fail(`expected a number at ${JSON.stringify(s.slice(i))}`);

    // Integer part: [0-9]*
    const intStart = i;
    let value = 0n;
    for (; i < s.length && isDigit(s, i); i++) {
      if (value > LIMIT / 10n) throw fail('out of range');
      value = value * 10n + BigInt(s.charCodeAt(i) - 48);
      if (value > LIMIT) throw fail('out of range');
    }
    const hasInteger = i > intStart;

    // Fraction: (\.[0-9]*)? Digits past what an int64 holds are read and ignored, as Go does.
    let fraction = 0n;
    let scale = 1;
    let hasFraction = false;
    if (s[i] === '.') {
      i++;
      const fracStart = i;
      let overflow = false;
      for (; i < s.length && isDigit(s, i); i++) {
        if (overflow) continue;
        if (fraction > (LIMIT - 1n) / 10n) {
          overflow = true;
          continue;
        }
        const next = fraction * 10n + BigInt(s.charCodeAt(i) - 48);
        if (next > LIMIT) {
          overflow = true;
          continue;
        }
        fraction = next;
        scale *= 10;
      }
      hasFraction = i > fracStart;
    }
    if (!hasInteger && !hasFraction) throw fail('a "." needs digits before or after it');

    // Unit: everything up to the next number.
    const unitStart = i;
    for (; i < s.length && !(s[i] === '.' || isDigit(s, i)); i++);
    if (i === unitStart) throw fail(`missing unit after ${s.slice(intStart, i)} (one of ${UNIT_LIST})`);
    const unitText = s.slice(unitStart, i);
    const unit = UNITS.get(unitText);
    if (unit === undefined) throw fail(`unknown unit ${JSON.stringify(unitText)} (one of ${UNIT_LIST})`);

    if (value > LIMIT / unit) throw fail('out of range');
    value *= unit;
    if (fraction > 0n) {
      // Go computes the fractional part in float64; doing the same keeps results bit-identical.
      value += BigInt(Math.trunc(Number(fraction) * (Number(unit) / scale)));
      if (value > LIMIT) throw fail('out of range');
    }
    total += value;
    if (total > LIMIT) throw fail('out of range');
  }
  if (negative) return -total;
  if (total > LIMIT - 1n) throw fail('out of range');
  return total;
}

/**
 * Formats milliseconds the way Go's Duration.String does (`1h2m3.5s`, `300ms`, `1.5µs`, `0s`), which
 * parseDuration reads back. Sub-nanosecond digits are rounded away.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return `${ms}ms`;
  return formatDurationNanos(BigInt(Math.round(ms * 1e6)));
}

/** Go's Duration.String for a nanosecond count. */
export function formatDurationNanos(nanos: bigint): string {
  if (nanos === 0n) return '0s';
  const sign = nanos < 0n ? '-' : '';
  const u = nanos < 0n ? -nanos : nanos;
  if (u < 1_000n) return `${sign}${u}ns`;
  if (u < 1_000_000n) return `${sign}${decimal(u, 3)}µs`;
  if (u < 1_000_000_000n) return `${sign}${decimal(u, 6)}ms`;
  const seconds = u / 1_000_000_000n;
  const text = `${decimal((seconds % 60n) * 1_000_000_000n + (u % 1_000_000_000n), 9)}s`;
  if (seconds < 60n) return sign + text;
  const minutes = seconds / 60n;
  if (minutes < 60n) return `${sign}${minutes}m${text}`;
  return `${sign}${minutes / 60n}h${minutes % 60n}m${text}`;
}

/** value / 10^digits, written with the fraction's trailing zeros (and a bare ".") left out. */
function decimal(value: bigint, digits: number): string {
  const scale = 10n ** BigInt(digits);
  const fraction = (value % scale).toString().padStart(digits, '0').replace(/0+$/, '');
  return fraction ? `${value / scale}.${fraction}` : `${value / scale}`;
}

function isDigit(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 48 && c <= 57;
}
