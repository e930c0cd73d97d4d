import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry } from './helpers/registry.js';

test('GET /v2/ answers 200 with the API version header', async (t) => {
  const registry = await startRegistry(t);
  const response = await fetch(`${registry.url}/v2/`, { signal: AbortSignal.timeout(5000) });
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('docker-distribution-api-version'), 'registry/2.0');
  assert.deepEqual(await response.json(), {});
});
