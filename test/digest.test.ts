// The two short spellings of a digest: docker's image-id style for tables, and the same with an
// ellipsis for messages, so a reader knows the digest goes on.
import test from 'node:test';
import assert from 'node:assert/strict';
import { digestBytes, elidedDigest, shortDigest } from '../src/oci/digest.js';

const digest = digestBytes('hello');

test('shortDigest keeps the algorithm and 12 hex digits, as docker prints image ids', () => {
  assert.equal(shortDigest(digest), `sha256:${digest.hex.slice(0, 12)}`);
  assert.equal(shortDigest(digest.text), shortDigest(digest));
  assert.equal(shortDigest(digestBytes('hello', 'sha512')), `sha512:${digestBytes('hello', 'sha512').hex.slice(0, 12)}`);
  assert.equal(shortDigest('sha256:abc'), 'sha256:abc');
  assert.equal(shortDigest('x'.repeat(30)), 'x'.repeat(19));
});

test('elidedDigest is shortDigest with … when something was cut off', () => {
  assert.equal(elidedDigest(digest), `sha256:${digest.hex.slice(0, 12)}…`);
  assert.equal(elidedDigest('sha256:abc'), 'sha256:abc');
  assert.equal(elidedDigest('x'.repeat(30)), `${'x'.repeat(19)}…`);
});
