// The parameter grammar: tags, Go durations (against Go's own test table), sizes, and error messages
// that name what is wrong.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { describeTagSpec, parseTagParams, ParamError, type TagSpec } from '../src/params/tag-params.js';
import { formatDuration, formatDurationNanos, parseDuration, parseDurationNanos } from '../src/params/duration.js';
import { formatSize, parseSize } from '../src/params/size.js';
import { byteSize, duration, port, wholeNumber } from '../src/params/values.js';
import { formatRandomTag, parseRandomTag } from '../src/images/random/params.js';

const NS = 1n;
const US = 1000n * NS;
const MS = 1000n * US;
const S = 1000n * MS;
const M = 60n * S;
const H = 60n * M;
const MAX_INT64 = (1n << 63n) - 1n;
const MIN_INT64 = -(1n << 63n);

// Go's parseDurationTests (src/time/time_test.go), as input and nanoseconds.
const GO_VALID: [string, bigint][] = [
  ['0', 0n],
  ['5s', 5n * S],
  ['30s', 30n * S],
  ['1478s', 1478n * S],
  ['-5s', -5n * S],
  ['+5s', 5n * S],
  ['-0', 0n],
  ['+0', 0n],
  ['5.0s', 5n * S],
  ['5.6s', 5n * S + 600n * MS],
  ['5.s', 5n * S],
  ['.5s', 500n * MS],
  ['1.0s', 1n * S],
  ['1.00s', 1n * S],
  ['1.004s', 1n * S + 4n * MS],
  ['1.0040s', 1n * S + 4n * MS],
  ['100.00100s', 100n * S + 1n * MS],
  ['10ns', 10n * NS],
  ['11us', 11n * US],
  ['12\u00b5s', 12n * US],
  ['12\u03bcs', 12n * US],
  ['13ms', 13n * MS],
  ['14s', 14n * S],
  ['15m', 15n * M],
  ['16h', 16n * H],
  ['3h30m', 3n * H + 30n * M],
  ['10.5s4m', 4n * M + 10n * S + 500n * MS],
  ['-2m3.4s', -(2n * M + 3n * S + 400n * MS)],
  ['1h2m3s4ms5us6ns', 1n * H + 2n * M + 3n * S + 4n * MS + 5n * US + 6n * NS],
  ['39h9m14.425s', 39n * H + 9n * M + 14n * S + 425n * MS],
  ['52763797000ns', 52763797000n * NS],
  ['0.3333333333333333333h', 20n * M],
  ['9007199254740993ns', (1n << 53n) + 1n],
  ['9223372036854775807ns', MAX_INT64],
  ['9223372036854775.807us', MAX_INT64],
  ['9223372036s854ms775us807ns', MAX_INT64],
  ['-9223372036854775808ns', MIN_INT64],
  ['-9223372036854775.808us', MIN_INT64],
  ['-9223372036s854ms775us808ns', MIN_INT64],
  ['-2562047h47m16.854775808s', MIN_INT64],
  ['0.100000000000000000000h', 6n * M],
  ['0.830103483285477580700h', 49n * M + 48n * S + 372539827n * NS],
];

// Go's parseDurationErrorTests: invalid, then overflow.
const GO_INVALID = [
  '',
  '3',
  '-',
  's',
  '.',
  '-.',
  '.s',
  '+.s',
  '1d',
  '\x85\x85',
  '\xffff',
  'hello \xffff world',
  '\uFFFD',
  '\uFFFD hello \uFFFD world',
  '9223372036854775810ns',
  '9223372036854775808ns',
  '-9223372036854775809ns',
  '9223372036854776us',
  '3000000h',
  '9223372036854775.808us',
  '9223372036854ms775us808ns',
];

describe('parseDuration (Go time.ParseDuration)', () => {
  for (const [text, nanos] of GO_VALID) {
    it(`parses ${JSON.stringify(text)}`, () => {
      assert.equal(parseDurationNanos(text), nanos);
      const ms = parseDuration(text);
      assert.ok(Math.abs(ms * 1e6 - Number(nanos)) <= Math.abs(Number(nanos)) * 1e-15, `${ms}ms`);
    });
  }
  for (const text of GO_INVALID) {
    it(`refuses ${JSON.stringify(text)}, quoting it`, () => {
      assert.throws(() => parseDurationNanos(text), (error: Error) => error.message.includes(JSON.stringify(text)));
    });
  }

  it('gives milliseconds for the usual forms', () => {
    assert.equal(parseDuration('300ms'), 300);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('2h45m'), 9_900_000);
    assert.equal(parseDuration('-1.5h'), -5_400_000);
    assert.equal(parseDuration('1500us'), 1.5);
    assert.equal(Object.is(parseDuration('-0'), 0), true);
  });

  it('says what is wrong', () => {
    assert.throws(() => parseDuration('3'), /missing unit/);
    assert.throws(() => parseDuration('1d'), /unknown unit "d"/);
    assert.throws(() => parseDuration(''), /empty/);
    assert.throws(() => parseDuration('3000000h'), /out of range/);
    assert.throws(() => parseDuration('5 s'), /unknown unit " s"/);
  });

  it('formats like Go and reads its own output back', () => {
    const cases: [bigint, string][] = [
      [0n, '0s'],
      [1n, '1ns'],
      [1100n, '1.1µs'],
      [2_200_000n, '2.2ms'],
      [3_300_000_000n, '3.3s'],
      [4n * M + 5n * S, '4m5s'],
      [4n * M + 5001n * MS, '4m5.001s'],
      [5n * H + 6n * M + 7001n * MS, '5h6m7.001s'],
      [8n * M + 1n, '8m0.000000001s'],
      [MAX_INT64, '2562047h47m16.854775807s'],
      [MIN_INT64, '-2562047h47m16.854775808s'],
      [H, '1h0m0s'],
    ];
    for (const [nanos, text] of cases) {
      assert.equal(formatDurationNanos(nanos), text);
      assert.equal(parseDurationNanos(text), nanos);
    }
    assert.equal(formatDuration(300), '300ms');
    assert.equal(formatDuration(90_000), '1m30s');
    assert.equal(formatDuration(-1500), '-1.5s');
  });
});

describe('parseSize', () => {
  it('reads bytes and powers of 1024, any case', () => {
    assert.equal(parseSize('0'), 0);
    assert.equal(parseSize('1024'), 1024);
    assert.equal(parseSize('007'), 7);
    assert.equal(parseSize('1k'), 1024);
    assert.equal(parseSize('1K'), 1024);
    assert.equal(parseSize('3m'), 3 * 1024 ** 2);
    assert.equal(parseSize('2G'), 2 * 1024 ** 3);
    assert.equal(parseSize('512KiB'), 512 * 1024);
    assert.equal(parseSize('1gib'), 1024 ** 3);
    assert.equal(parseSize(String(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
  });

  it('refuses what is not a whole size, saying why', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['1.5m', /whole number/],
      ['-1', /negative/],
      ['1kb', /ambiguous/],
      ['1MB', /ambiguous/],
      ['1t', /unknown suffix "t"/],
      ['k', /invalid size "k"/],
      [' 1', /invalid size/],
      ['1e3', /write whole bytes/],
      ['0x10', /write whole bytes/],
      ['9007199254740992', /larger than/],
      ['8388608g', /larger than/],
    ];
    for (const [text, why] of cases) {
      assert.throws(() => parseSize(text), (error: Error) => why.test(error.message) && error.message.includes(JSON.stringify(text)), text);
    }
  });

  it('formats to the shortest exact spelling', () => {
    assert.equal(formatSize(0), '0');
    assert.equal(formatSize(1000), '1000');
    assert.equal(formatSize(1536), '1536');
    assert.equal(formatSize(1024), '1k');
    assert.equal(formatSize(1536 * 1024), '1536k');
    assert.equal(formatSize(100 * 1024 ** 2), '100m');
    assert.equal(formatSize(1024 ** 3), '1g');
    for (const bytes of [0, 1, 1023, 1024, 4096, 1536 * 1024, 5 * 1024 ** 3]) assert.equal(parseSize(formatSize(bytes)), bytes);
  });
});

const SPEC = {
  layers: { required: true, placeholder: 'X', parse: wholeNumber({ min: 1, max: 10 }) },
  size: { required: true, placeholder: 'Y', parse: byteSize({ max: 1024 ** 2 }) },
  seed: { parse: wholeNumber(), default: 0, placeholder: 'Z' },
  note: { parse: (text: string) => text },
} satisfies TagSpec;

function paramError(tag: string, spec: TagSpec = SPEC): ParamError {
  try {
    parseTagParams(tag, spec);
  } catch (error) {
    assert.ok(error instanceof ParamError, `not a ParamError: ${String(error)}`);
    return error;
  }
  assert.fail(`${tag} parsed`);
}

describe('value parsers (params/values.ts)', () => {
  it('durations: negative, zero when positive, and a limit named by its reason or its flag', () => {
    assert.equal(duration()('1m30s'), 90_000);
    assert.equal(duration()('0'), 0);
    assert.throws(() => duration()('-1s'), /^Error: -1s is less than 0s: a duration is never negative$/);
    assert.throws(() => duration({ positive: true })('0s'), /^Error: 0s must be longer than zero$/);
    assert.equal(duration({ positive: true })('1ms'), 1);
    assert.throws(() => duration({ min: 1 })('500us'), /500us is less than 1ms/);
    assert.throws(() => duration({ max: 60_000, limitName: '1m' })('2m'), /^Error: 2m is longer than the limit of 1m0s \(1m\)$/);
    assert.throws(() => duration({ max: 60_000, limitFlag: '--max-timeout' })('2m'), /^Error: 2m is longer than --max-timeout 1m0s$/);
    assert.throws(() => duration()('5'), /missing unit/);
  });

  it('ports: 0 to 65535 in plain digits', () => {
    assert.equal(port('0'), 0);
    assert.equal(port('65535'), 65535);
    for (const text of ['65536', 'http', '-1', '1e3', '']) assert.throws(() => port(text), /is not a port number \(0-65535\)/, text);
  });
});

describe('parseTagParams', () => {
  it('parses key-value pairs in any order, applying declared defaults only', () => {
    assert.deepEqual(parseTagParams('layers-3_size-1k_seed-7', SPEC), { layers: 3, size: 1024, seed: 7 });
    assert.deepEqual(parseTagParams('size-10_layers-1', SPEC), { layers: 1, size: 10, seed: 0 });
    const withNote = parseTagParams('layers-1_size-1_note-hello-world', SPEC);
    assert.equal(withNote.note, 'hello-world');
    const typed: { layers: number; size: number; seed: number; note: string | undefined } = parseTagParams('layers-1_size-1', SPEC);
    assert.equal(typed.note, undefined);
    assert.equal('note' in typed, false);
  });

  it('keeps dashes in values (negative durations reach the caller)', () => {
    const spec = { dur: { required: true, parse: duration({ min: -Infinity }) } } satisfies TagSpec;
    assert.equal(parseTagParams('dur--1.5s', spec).dur, -1500);
    assert.equal(parseTagParams('dur-1m30s', spec).dur, 90_000);
    assert.match(paramError('dur--1s', { dur: { required: true, parse: duration() } }).message, /"dur".*-1s is less than 0s/);
  });

  it('names the parameter in every error', () => {
    const cases: [string, string, string, RegExp][] = [
      ['layers-3', 'size', 'missing', /missing parameter "size": expected layers-<X>_size-<Y>\[_seed-<Z>\]\[_note-<note>\]/],
      ['', 'layers', 'missing', /missing parameters "layers" and "size"/],
      ['latest', 'latest', 'malformed', /parameter "latest" has no value/],
      ['layers3_size-1', 'layers3', 'malformed', /"layers3" has no value \(layers-3\?\)/],
      ['-3_size-1', '-3', 'malformed', /"-3" has no key/],
      ['layers-1__size-1', '', 'malformed', /empty parameter in "layers-1__size-1"/],
      ['layers-1_size-1_color-red', 'color', 'unknown', /unknown parameter "color" \(known: layers, size, seed, note\)/],
      ['layers-1_layers-2_size-1', 'layers', 'duplicate', /parameter "layers" is given more than once/],
      ['layers-_size-1', 'layers', 'invalid', /parameter "layers" has an empty value/],
      ['layers-x_size-1', 'layers', 'invalid', /bad value for parameter "layers": "x" is not a whole number from 1 to 10/],
      ['layers-11_size-1', 'layers', 'invalid', /"layers".*from 1 to 10/],
      ['layers-1_size-2m', 'size', 'invalid', /bad value for parameter "size": 2m is more than the limit of 1m/],
      ['layers-1_size-1.5k', 'size', 'invalid', /"size".*whole number/],
      ['layers-1_size-1_seed--1', 'seed', 'invalid', /"seed".*"-1" is not a whole number/],
    ];
    for (const [tag, param, problem, message] of cases) {
      const error = paramError(tag);
      assert.equal(error.param, param, tag);
      assert.equal(error.problem, problem, tag);
      assert.match(error.message, message, tag);
    }
  });

  it('does not treat inherited object keys as parameters', () => {
    assert.equal(paramError('constructor-1_layers-1_size-1').problem, 'unknown');
    assert.equal(paramError('__proto__-1').problem, 'malformed'); // "" segments before it
  });

  it('describes the grammar', () => {
    assert.equal(describeTagSpec(SPEC), 'layers-<X>_size-<Y>[_seed-<Z>][_note-<note>]');
    assert.equal(describeTagSpec({ n: { parse: Number } }), '[n-<n>]');
  });
});

describe('broken/random tags', () => {
  it('parses layers-X_size-Y[_seed-Z] within the limits', () => {
    assert.deepEqual(parseRandomTag('layers-3_size-1024_seed-7'), { layers: 3, size: 1024, seed: 7 });
    assert.deepEqual(parseRandomTag('layers-2_size-0'), { layers: 2, size: 0, seed: 0 });
    assert.throws(() => parseRandomTag('layers-0_size-1'), (e: ParamError) => e.param === 'layers');
    assert.throws(() => parseRandomTag('layers-3_size-2k', { maxLayers: 5, maxRandomSize: 1024 }), (e: ParamError) => e.param === 'size' && /limit of 1k/.test(e.message));
    assert.throws(() => parseRandomTag('layers-6_size-1', { maxLayers: 5, maxRandomSize: 1024 }), (e: ParamError) => e.param === 'layers');
  });

  it('formats the canonical tag, which parses back', () => {
    for (const params of [{ layers: 3, size: 1024, seed: 7 }, { layers: 1, size: 100 * 1024 ** 2, seed: 0 }, { layers: 2, size: 1000, seed: 1 }]) {
      assert.deepEqual(parseRandomTag(formatRandomTag(params)), params);
    }
    assert.equal(formatRandomTag({ layers: 3, size: 1024, seed: 0 }), 'layers-3_size-1k');
  });
});
