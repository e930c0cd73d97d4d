import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startRegistry } from './helpers/registry.js';
import { systemClock, type Clock } from '../src/clock.js';
import { DEFAULT_LIMITS } from '../src/config.js';

type Envelope = { errors: { code: string; message: string }[] };

function recordingClock(): { clock: Clock; waits: number[] } {
  const waits: number[] = [];
  return { waits, clock: { now: () => new Date(0), sleep: async (ms) => void waits.push(ms) } };
}

async function getJson(url: string, method = 'GET') {
  const response = await fetch(url, { method, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Envelope | undefined };
}

test('dur-<duration> waits that long on the clock, then answers 408 TIMEOUT', async (t) => {
  const { clock, waits } = recordingClock();
  const registry = await startRegistry(t, { clock, config: { limits: { ...DEFAULT_LIMITS, maxTimeoutMs: 2 * 3_600_000 } } });
  const cases: [string, number][] = [
    ['2s', 2000],
    ['300ms', 300],
    ['1.5h', 5_400_000],
    ['1h2m3s', 3_723_000],
    ['10us', 0.01],
    ['0', 0],
  ];
  for (const [duration] of cases) {
    const { status, body } = await getJson(`${registry.url}/v2/broken/timeout/manifests/dur-${duration}`);
    assert.equal(status, 408, duration);
    assert.equal(body?.errors[0]?.code, 'TIMEOUT');
    assert.equal(body?.errors[0]?.message, 'Timeout duration has elapsed!');
  }
  assert.deepEqual(waits, cases.map(([, ms]) => ms));
  const head = await fetch(`${registry.url}/v2/broken/timeout/manifests/dur-1s`, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
  assert.equal(head.status, 408);
  assert.equal(registry.logs.at(-1)?.scenario, 'timeout');
});

test('a missing, malformed, negative or too long duration answers 400 MANIFEST_INVALID saying why', async (t) => {
  const { clock, waits } = recordingClock();
  const registry = await startRegistry(t, { clock, config: { limits: { ...DEFAULT_LIMITS, maxTimeoutMs: 60_000 } } });
  const cases: [string, RegExp][] = [
    ['latest', /no value|dur/],
    ['dur-', /dur/],
    ['dur-5', /missing unit/],
    ['dur-5d', /unknown unit/],
    ['dur--1s', /negative/],
    ['dur-2m', /longer than --max-timeout 1m0s/],
    ['dur-1s_x-2', /unknown parameter "x"/],
  ];
  for (const [tag, why] of cases) {
    const { status, body } = await getJson(`${registry.url}/v2/broken/timeout/manifests/${tag}`);
    assert.equal(status, 400, tag);
    assert.equal(body?.errors[0]?.code, 'MANIFEST_INVALID', tag);
    assert.match(body?.errors[0]?.message ?? '', why, tag);
  }
  assert.deepEqual(waits, []);
});

test('waits do not block other requests, and a client that hangs up frees its wait at once', async (t) => {
  const events: string[] = [];
  const clock: Clock = {
    now: () => new Date(),
    sleep: async (ms, signal) => {
      events.push('wait');
      try {
        await systemClock.sleep(ms, signal);
      } catch (error) {
        events.push('freed');
        throw error;
      }
    },
  };
  const registry = await startRegistry(t, { clock });
  const hanging = 200;
  const requests = Array.from({ length: hanging }, () => {
    const request = http.get(`${registry.url}/v2/broken/timeout/manifests/dur-1h`);
    request.on('error', () => undefined);
    return request;
  });
  for (let i = 0; i < 200 && events.filter((e) => e === 'wait').length < hanging; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(events.filter((e) => e === 'wait').length, hanging);
  const base = await fetch(`${registry.url}/v2/`, { signal: AbortSignal.timeout(5000) });
  assert.equal(base.status, 200);
  for (const request of requests) request.destroy();
  for (let i = 0; i < 200 && events.filter((e) => e === 'freed').length < hanging; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(events.filter((e) => e === 'freed').length, hanging);
});
