// broken/malformed over real HTTP: every kind's defect is where the table says when fetched as a
// client fetches it; unknown kinds list the kinds; blobs that do not match their digest are served.
import { before, after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRegistry, type TestRegistry } from './helpers/registry.js';
import { requireTools, Scope } from './helpers/run.js';
import { checkImage, sha256, ZSTD_KINDS, type ImageFetcher } from './helpers/malformed-check.js';
import { createMalformedCorpus, MALFORMED_KINDS, MALFORMED_KIND_NAMES } from '../src/images/malformed/index.js';
import { HUGE_MANIFEST_LIMIT } from '../src/images/malformed/kinds.js';

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.docker.distribution.manifest.v1+json',
].join(', ');

interface ErrorBody {
  errors: { code: string; message: string; detail?: { kinds?: string[] } }[];
}

describe('broken/malformed over HTTP', () => {
  const scope = new Scope();
  let registry: TestRegistry;
  let base: string;
  const get = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { ...init, headers: { Accept: ACCEPT, ...init.headers }, signal: AbortSignal.timeout(30_000) });

  before(async () => {
    registry = await startRegistry(scope.context);
    base = `${registry.url}/v2/broken/malformed`;
  });
  after(() => scope.close());

  const fetcher: ImageFetcher = {
    async manifest(digest) {
      const response = await get(`/manifests/${digest}`);
      if (response.status === 404) return undefined;
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('docker-content-digest'), digest);
      return { mediaType: response.headers.get('content-type') ?? '', bytes: Buffer.from(await response.arrayBuffer()) };
    },
    async blob(digest) {
      const response = await get(`/blobs/${digest}`);
      if (response.status === 404) {
        assert.equal(((await response.json()) as ErrorBody).errors[0]?.code, 'BLOB_UNKNOWN');
        return undefined;
      }
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('docker-content-digest'), digest);
      const bytes = Buffer.from(await response.arrayBuffer());
      assert.equal(Number(response.headers.get('content-length')), bytes.length);
      return bytes;
    },
  };

  const corpus = createMalformedCorpus();
  for (const { kind, where } of MALFORMED_KINDS) {
    test(`${kind}: pulled over HTTP, the one defect is at ${where}`, async (t) => {
      if (ZSTD_KINDS.has(kind) && !requireTools(t, 'zstd')) return;
      const expected = corpus.image(kind)!.root;
      const response = await get(`/manifests/${kind}`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), expected.mediaType);
      const digest = response.headers.get('docker-content-digest') ?? '';
      assert.equal(digest, expected.digest.text);
      const bytes = Buffer.from(await response.arrayBuffer());
      const findings = await checkImage({ mediaType: expected.mediaType, bytes, digest }, fetcher);
      assert.deepEqual(findings, [`${kind} @ ${where}`]);
    });
  }

  for (const tag of ['latest', 'no-such-kind']) {
    test(`broken/malformed:${tag} is 404 MANIFEST_UNKNOWN naming every kind`, async () => {
      for (const method of ['GET', 'HEAD']) {
        const response = await get(`/manifests/${tag}`, { method });
        assert.equal(response.status, 404, method);
        if (method === 'HEAD') continue;
        const [error] = ((await response.json()) as ErrorBody).errors;
        assert.equal(error?.code, 'MANIFEST_UNKNOWN');
        for (const kind of MALFORMED_KIND_NAMES) assert.ok(error.message.includes(kind), `${kind} missing from: ${error.message}`);
        assert.deepEqual(error.detail?.kinds, MALFORMED_KIND_NAMES);
      }
    });
  }

  test('an unknown digest is MANIFEST_UNKNOWN or BLOB_UNKNOWN; pushes are DENIED', async () => {
    const nothing = sha256('nothing here');
    assert.equal(((await (await get(`/manifests/${nothing}`)).json()) as ErrorBody).errors[0]?.code, 'MANIFEST_UNKNOWN');
    assert.equal(((await (await get(`/blobs/${nothing}`)).json()) as ErrorBody).errors[0]?.code, 'BLOB_UNKNOWN');
    const put = await get('/manifests/mine', { method: 'PUT', body: '{}', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(put.status, 403);
    assert.equal(((await put.json()) as ErrorBody).errors[0]?.code, 'DENIED');
  });

  test('digest-mismatch serves other bytes under the digest, whole and by Range', async () => {
    const layer = corpus.image('digest-mismatch')!.blobs[1]!;
    const whole = await get(`/blobs/${layer.digest}`);
    assert.equal(whole.headers.get('docker-content-digest'), layer.digest);
    const bytes = Buffer.from(await whole.arrayBuffer());
    assert.notEqual(sha256(bytes), layer.digest);
    const part = await get(`/blobs/${layer.digest}`, { headers: { Range: 'bytes=5-14' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 5-14/${bytes.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(5, 15));
  });

  test('manifest-huge answers HEAD with its length and GET with all of it', async () => {
    const head = await get('/manifests/manifest-huge', { method: 'HEAD' });
    const length = Number(head.headers.get('content-length'));
    assert.ok(length > HUGE_MANIFEST_LIMIT, String(length));
    const body = Buffer.from(await (await get('/manifests/manifest-huge')).arrayBuffer());
    assert.equal(body.length, length);
    assert.equal(sha256(body), head.headers.get('docker-content-digest'));
  });

  test('tags/list lists the kinds, paginated', async () => {
    const all = (await (await get('/tags/list')).json()) as { name: string; tags: string[] };
    assert.deepEqual(all, { name: 'broken/malformed', tags: [...MALFORMED_KIND_NAMES].sort() });
    const page = await get('/tags/list?n=2');
    assert.deepEqual(((await page.json()) as { tags: string[] }).tags, all.tags.slice(0, 2));
    assert.match(page.headers.get('link') ?? '', /rel="next"/);
  });
});
