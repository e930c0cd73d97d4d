// The fault rules grammar and the matcher, as pure functions: what parses, what is refused and why,
// which requests a rule set selects, and which of them fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLimits, FAULT_KEYS, parseRules, RulesError } from '../src/faults/rules.js';
import { Counters, requestKey, scheduled, selects } from '../src/faults/matcher.js';
import { corruptOffsets, offsetOf } from '../src/faults/body.js';
import type { Route } from '../src/http/routes.js';

function refused(text: string, key: string, pattern: RegExp): void {
  assert.throws(
    () => parseRules(text),
    (error: unknown) => {
      assert.ok(error instanceof RulesError, `${text}: ${String(error)}`);
      assert.equal(error.key, key, `${text}: the key at fault`);
      assert.match(error.message, pattern, text);
      return true;
    },
  );
}

test('every key of the table parses its own example, and the examples only use known keys', () => {
  for (const entry of FAULT_KEYS) {
    const rules = parseRules(entry.example);
    assert.ok(entry.example.split('_').some((part) => part.startsWith(`${entry.key}-`)), `${entry.key}: its example ${entry.example} uses it`);
    assert.ok(rules, entry.example);
    assert.match(entry.value, /^<.+>$/, `${entry.key}: the value grammar is <...>`);
  }
  assert.equal(new Set(FAULT_KEYS.map((k) => k.key)).size, FAULT_KEYS.length, 'no key twice');
});

test('rules parse into typed values, with the default selection (pull) and after-0', () => {
  assert.deepEqual(parseRules('status-503'), { on: 'pull', after: 0, status: 503 });
  assert.deepEqual(parseRules('on-blob_status-503_times-2'), { on: 'blob', after: 0, status: 503, times: 2 });
  assert.deepEqual(parseRules('on-upload_method-patch_after-1_times-1_status-500'), { on: 'upload', method: 'patch', after: 1, times: 1, status: 500 });
  assert.deepEqual(parseRules('close-50pct'), { on: 'pull', after: 0, close: { percent: 50 } });
  assert.deepEqual(parseRules('reset-1m'), { on: 'pull', after: 0, reset: { bytes: 1024 * 1024 } });
  assert.deepEqual(parseRules('stall-2s_at-1m'), { on: 'pull', after: 0, stall: 2000, at: { bytes: 1024 * 1024 } });
  assert.deepEqual(parseRules('drip-16_every-500ms'), { on: 'pull', after: 0, drip: 16, every: 500 });
  assert.deepEqual(parseRules('status-429_retry-none'), { on: 'pull', after: 0, status: 429, retry: 'none' });
  assert.deepEqual(parseRules('prob-30_seed-7_status-500'), { on: 'pull', after: 0, prob: 30, seed: 7, status: 500 });
  assert.deepEqual(parseRules('rate-1m_delay-1.5s_type-html'), { on: 'pull', after: 0, rate: 1024 * 1024, delay: 1500, type: 'html' });
  assert.deepEqual(parseRules('digest-ab12_range-416'), { on: 'pull', after: 0, digest: 'ab12', range: '416' });
});

test('an unknown key, a bad value, a key twice and a missing value are refused naming the key', () => {
  refused('bogus-1', 'bogus', /unknown key "bogus"/);
  refused('status-600', 'status', /not a whole number from 400 to 599/);
  refused('status-2xx', 'status', /bad value/);
  refused('on-everything', 'on', /not one of pull, push, manifest, blob, upload, tags, referrers, any/);
  refused('status-500_status-503', 'status', /more than once/);
  refused('status', 'status', /has no value/);
  refused('close-101pct', 'close', /more than 100pct/);
  refused('rate-0', 'rate', /more than 0 bytes/);
  refused('delay-1y', 'delay', /unknown unit/);
  refused('delay--1s', 'delay', /less than/);
  refused('digest-XYZ', 'digest', /hex/);
  refused('corrupt-0', 'corrupt', /whole number from 1/);
  refused('status-500__times-1', '', /empty parameter/);
});

test('contradicting and incomplete rules are refused naming the key', () => {
  refused('on-blob', '', /name no fault/);
  refused('on-blob_times-2', '', /name no fault/);
  refused('status-429_retry-2_retrydate-2', 'retrydate', /retry and retrydate contradict/);
  refused('reset-1k_close-1k', 'close', /reset and close contradict/);
  refused('status-500_close-1k', 'close', /status and close contradict/);
  refused('status-500_corrupt-1', 'corrupt', /status and corrupt contradict/);
  refused('stall-1s_drip-1', 'drip', /stall and drip contradict/);
  refused('body-html_delay-1s', 'body', /body needs status/);
  refused('retry-2_delay-1s', 'retry', /needs status/);
  refused('status-500_challenge-none', 'challenge', /needs status-401/);
  refused('at-1m_rate-1k', 'at', /needs stall or drip/);
  refused('every-1s_rate-1k', 'every', /needs drip/);
  refused('seed-1_status-500', 'seed', /needs prob or corrupt/);
  refused('on-pull_method-put_status-500', 'method', /never PUT/);
  refused('on-tags_digest-ab_status-500', 'digest', /on-tags requests have none/);
  refused('on-upload_corrupt-1', 'corrupt', /acts on response bodies/);
  refused('on-push_stall-1s', 'stall', /acts on response bodies/);
  refused('on-any_method-patch_close-1k', 'close', /acts on response bodies/);
});

test('waits longer than --max-timeout are refused naming the key', () => {
  assert.equal(checkLimits(parseRules('delay-1m'), 60_000), undefined);
  assert.equal(checkLimits(parseRules('delay-61s'), 60_000)?.key, 'delay');
  assert.equal(checkLimits(parseRules('stall-2m'), 60_000)?.key, 'stall');
  assert.equal(checkLimits(parseRules('drip-1_every-2m'), 60_000)?.key, 'every');
});

const route = (operation: Route['operation'], name: string, reference = ''): Route => ({ operation, name, reference });
const HEX = 'ab'.repeat(32);

test('selection: on- classes, method- and digest-, a tag selected later by its digest', () => {
  const pull = parseRules('status-500');
  assert.equal(selects(pull, route('manifest.get', 'r', 'v1'), 'GET'), 'yes');
  assert.equal(selects(pull, route('blob.head', 'r', `sha256:${HEX}`), 'HEAD'), 'yes');
  assert.equal(selects(pull, route('tags.list', 'r'), 'GET'), 'no');
  assert.equal(selects(pull, route('upload.patch', 'r', 'u'), 'PATCH'), 'no');
  const push = parseRules('on-push_status-500');
  assert.equal(selects(push, route('manifest.put', 'r', 'v1'), 'PUT'), 'yes');
  assert.equal(selects(push, route('upload.start', 'r'), 'POST'), 'yes');
  assert.equal(selects(push, route('blob.get', 'r', `sha256:${HEX}`), 'GET'), 'no');
  const patch = parseRules('on-upload_method-patch_status-500');
  assert.equal(selects(patch, route('upload.patch', 'r', 'u'), 'PATCH'), 'yes');
  assert.equal(selects(patch, route('upload.finish', 'r', 'u'), 'PUT'), 'no');
  assert.equal(selects(parseRules('on-tags_status-500'), route('tags.list', 'r'), 'GET'), 'yes');
  assert.equal(selects(parseRules('on-referrers_status-500'), route('referrers.list', 'r', `sha256:${HEX}`), 'GET'), 'yes');
  assert.equal(selects(parseRules('on-any_status-500'), route('upload.cancel', 'r', 'u'), 'DELETE'), 'yes');
  const digest = parseRules('digest-abab_status-500');
  assert.equal(selects(digest, route('blob.get', 'r', `sha256:${HEX}`), 'GET'), 'yes');
  assert.equal(selects(digest, route('blob.get', 'r', `sha256:ba${HEX.slice(2)}`), 'GET'), 'no');
  assert.equal(selects(digest, route('manifest.get', 'r', 'v1'), 'GET'), 'by-digest');
  assert.equal(selects(parseRules('on-manifest_digest-ab_status-500'), route('manifest.put', 'r', 'v1'), 'PUT'), 'no');
});

test('counts are per rule set and per method and path; an upload session id does not count', () => {
  const counters = new Counters();
  const blob = requestKey(route('blob.get', 'r', `sha256:${HEX}`), 'GET');
  const other = requestKey(route('blob.get', 'r', `sha256:${'cd'.repeat(32)}`), 'GET');
  assert.deepEqual([counters.take('a', blob), counters.take('a', blob), counters.take('a', other), counters.take('b', blob)], [0, 1, 0, 0]);
  assert.notEqual(requestKey(route('blob.head', 'r', `sha256:${HEX}`), 'HEAD'), blob);
  assert.equal(requestKey(route('upload.patch', 'r', 'one'), 'PATCH'), requestKey(route('upload.patch', 'r', 'two'), 'PATCH'));
});

test('times, after and prob decide which matching requests fail; prob with a seed is reproducible', () => {
  const none = () => 0.99;
  const pattern = (text: string, n = 6) => Array.from({ length: n }, (_, i) => scheduled(parseRules(text), i, 'GET /v2/r/blobs/x', none));
  assert.deepEqual(pattern('status-500'), [true, true, true, true, true, true]);
  assert.deepEqual(pattern('status-500_times-2'), [true, true, false, false, false, false]);
  assert.deepEqual(pattern('status-500_after-2'), [false, false, true, true, true, true]);
  assert.deepEqual(pattern('status-500_after-1_times-2'), [false, true, true, false, false, false]);
  assert.deepEqual(pattern('status-500_prob-100'), [true, true, true, true, true, true]);
  assert.deepEqual(pattern('status-500_prob-0'), [false, false, false, false, false, false]);
  assert.deepEqual(pattern('status-500_prob-50'), [false, false, false, false, false, false], 'the injected randomness decides without a seed');
  const seeded = pattern('status-500_prob-50_seed-3', 200);
  assert.deepEqual(pattern('status-500_prob-50_seed-3', 200), seeded, 'the same seed fails the same requests');
  const failed = seeded.filter(Boolean).length;
  assert.ok(failed > 70 && failed < 130, `about half of 200 fail: ${failed}`);
  assert.notDeepEqual(pattern('status-500_prob-50_seed-4', 200), seeded, 'another seed, other requests');
});

test('offsets: sizes and percentages of the length; corrupt offsets are distinct, sorted and seeded', () => {
  assert.equal(offsetOf({ bytes: 10 }, 100), 10);
  assert.equal(offsetOf({ percent: 50 }, 101), 50);
  const offsets = corruptOffsets(5, 1, 1000);
  assert.equal(new Set(offsets).size, 5);
  assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b));
  assert.deepEqual(corruptOffsets(5, 1, 1000), offsets);
  assert.notDeepEqual(corruptOffsets(5, 2, 1000), offsets);
  assert.deepEqual(corruptOffsets(9, 1, 3), [0, 1, 2]);
});
