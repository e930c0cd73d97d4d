// Sizes in bytes: a whole number, optionally followed by a binary multiplier.
//
//   1024   512k   100m   2g        k = 1024, m = 1024^2, g = 1024^3 (case-insensitive)
//   512kib 100mib 2gib             the IEC spellings of the same multipliers
//
// `kb`, `mb` and `gb` are refused rather than guessed at: half the world reads them as powers of
// 1000. Fractions, signs, spaces and values above Number.MAX_SAFE_INTEGER are refused too.

const MULTIPLIERS: ReadonlyMap<string, bigint> = new Map([
  ['', 1n],
  ['k', 1024n],
  ['kib', 1024n],
  ['m', 1024n ** 2n],
  ['mib', 1024n ** 2n],
  ['g', 1024n ** 3n],
  ['gib', 1024n ** 3n],
]);

const HOW = 'write whole bytes, or a whole number with k, m or g (powers of 1024), e.g. 1024, 512k, 100m, 1g';

/** Parses a size into bytes. Throws an Error saying what is wrong. */
export function parseSize(text: string): number {
  const fail = (why: string): Error => new Error(`invalid size ${JSON.stringify(text)}: ${why}`);
  if (text === '') throw fail(`empty (${HOW})`);
  const match = /^([0-9]+)([a-zA-Z]*)$/.exec(text);
  if (!match) {
    if (/^-[0-9]/.test(text)) throw fail('must not be negative');
    if (/^[0-9]*\.[0-9]/.test(text)) throw fail(`must be a whole number (${HOW})`);
    throw fail(HOW);
  }
  const digits = match[1] ?? '';
  const suffix = (match[2] ?? '').toLowerCase();
  const multiplier = MULTIPLIERS.get(suffix);
  if (multiplier === undefined) {
    if (/^[kmg]b$/.test(suffix)) {
      throw fail(`"${match[2]}" is ambiguous (1000 or 1024?); write ${suffix[0]} for powers of 1024`);
    }
    throw fail(`unknown suffix "${match[2]}" (${HOW})`);
  }
  const bytes = BigInt(digits) * multiplier;
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw fail(`larger than ${Number.MAX_SAFE_INTEGER} bytes`);
  return Number(bytes);
}

/** The shortest exact spelling of a byte count in the grammar parseSize reads: `1g`, `1536k`, `1000`. */
export function formatSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) return `${bytes} bytes`;
  for (const [suffix, unit] of [['g', 1024 ** 3], ['m', 1024 ** 2], ['k', 1024]] as const) {
    if (bytes >= unit && bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return String(bytes);
}
