// Pure parts of the proxy: name mapping, host patterns and private addresses, the Docker config,
// WWW-Authenticate parsing, and flag validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDefaultUpstream, upstreamFor, type DefaultUpstream } from '../src/proxy/upstream-name.js';
import { Allowlist, isPrivateAddress, matchesPattern, parseHostPattern, type HostPattern } from '../src/proxy/allowlist.js';
import { hostOfAuthKey, parseDockerConfig } from '../src/proxy/docker-config.js';
import { parseWwwAuthenticate } from '../src/proxy/auth.js';
import { Command } from 'commander';
import { resolveProxyOptions, type ProxyFlags } from '../src/proxy/options.js';
import { addProxyOptions } from '../src/commands/options.js';
import { UsageError } from '../src/cli-error.js';

const quay: DefaultUpstream = { host: 'quay.io', prefix: '' };

test('names map to their upstream registry and repository', () => {
  assert.deepEqual(upstreamFor('dcaravel/brokenreg', quay), { host: 'quay.io', apiHost: 'quay.io', repository: 'dcaravel/brokenreg' });
  assert.deepEqual(upstreamFor('docker.io/library/nginx', quay), { host: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'library/nginx' });
  assert.deepEqual(upstreamFor('docker.io/nginx', quay), { host: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'library/nginx' });
  assert.deepEqual(upstreamFor('index.docker.io/bitnami/redis', quay).repository, 'bitnami/redis');
  assert.deepEqual(upstreamFor('ghcr.io/org/app/sub', quay), { host: 'ghcr.io', apiHost: 'ghcr.io', repository: 'org/app/sub' });
  assert.deepEqual(upstreamFor('localhost/app', quay), { host: 'localhost', apiHost: 'localhost', repository: 'app' });
  assert.deepEqual(upstreamFor('127.0.0.1/app', quay).host, '127.0.0.1');
  assert.deepEqual(upstreamFor('nginx', quay), { host: 'quay.io', apiHost: 'quay.io', repository: 'nginx' });
  assert.deepEqual(upstreamFor('nginx', { host: 'docker.io', prefix: '' }).repository, 'library/nginx');
  const local: DefaultUpstream = { host: '127.0.0.1:5001', prefix: 'broken/prepared' };
  assert.deepEqual(upstreamFor('app/x', local), { host: '127.0.0.1:5001', apiHost: '127.0.0.1:5001', repository: 'broken/prepared/app/x' });
});

test('--upstream takes host[:port][/prefix]', () => {
  assert.deepEqual(parseDefaultUpstream('quay.io'), { host: 'quay.io', prefix: '' });
  assert.deepEqual(parseDefaultUpstream('127.0.0.1:5001/broken/prepared'), { host: '127.0.0.1:5001', prefix: 'broken/prepared' });
  assert.deepEqual(parseDefaultUpstream('https://Registry-1.Docker.io/'), { host: 'docker.io', prefix: '' });
  for (const bad of ['', 'a b', 'host:99999', 'quay.io/UPPER', 'quay.io/../x']) assert.equal(typeof parseDefaultUpstream(bad), 'string', bad);
});

function pattern(text: string, explicit = true): HostPattern {
  const parsed = parseHostPattern(text, explicit);
  assert.notEqual(typeof parsed, 'string', text);
  return parsed as HostPattern;
}

test('host patterns: exact, with port, and *. wildcards', () => {
  assert.ok(matchesPattern(pattern('quay.io'), 'quay.io'));
  assert.ok(matchesPattern(pattern('quay.io'), 'QUAY.io:443'));
  assert.ok(!matchesPattern(pattern('quay.io'), 'quay.io.evil.com'));
  assert.ok(matchesPattern(pattern('127.0.0.1:5001'), '127.0.0.1:5001'));
  assert.ok(!matchesPattern(pattern('127.0.0.1:5001'), '127.0.0.1:5002'));
  assert.ok(!matchesPattern(pattern('127.0.0.1:5001'), '127.0.0.1'));
  assert.ok(matchesPattern(pattern('*.example.com'), 'a.b.example.com'));
  assert.ok(!matchesPattern(pattern('*.example.com'), 'example.com'));
  assert.ok(!matchesPattern(pattern('*.example.com'), 'badexample.com'));
  assert.ok(matchesPattern(pattern('index.docker.io'), 'docker.io'));
  for (const bad of ['', '*', '*.', 'a/b', 'http://x', 'x:port', '.com']) assert.equal(typeof parseHostPattern(bad, true), 'string', bad);
});

test('only exact operator-given patterns may reach private addresses', () => {
  const list = new Allowlist([pattern('quay.io', false), pattern('*.corp.example'), pattern('registry.lan:5000')]);
  assert.ok(list.allows('quay.io') && list.allows('x.corp.example') && list.allows('registry.lan:5000'));
  assert.ok(!list.allows('ghcr.io'));
  assert.ok(!list.mayReachPrivate('quay.io'), 'built-in defaults do not');
  assert.ok(!list.mayReachPrivate('x.corp.example'), 'wildcards do not');
  assert.ok(list.mayReachPrivate('registry.lan:5000'));
  assert.throws(() => list.requireAllowed('ghcr.io'), /--allow-upstream ghcr\.io/);
});

test('private, loopback and link-local addresses are recognised', () => {
  for (const address of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '[::1]']) {
    assert.ok(isPrivateAddress(address), address);
  }
  for (const address of ['8.8.8.8', '203.0.113.7', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8']) assert.ok(!isPrivateAddress(address), address);
  assert.ok(isPrivateAddress('not-an-address'));
});

test('the Docker config gives credentials by registry host', () => {
  const table = parseDockerConfig(JSON.stringify({
    auths: {
      'https://index.docker.io/v1/': { auth: Buffer.from('hub:pa:ss').toString('base64') },
      'quay.io': { username: 'q', password: 'p' },
      'http://127.0.0.1:5001': { auth: Buffer.from('local:pw').toString('base64') },
      'ghcr.io': { auth: '' },
      'broken.example': 'nonsense',
    },
    credsStore: 'desktop',
  }));
  assert.deepEqual(table.get('docker.io'), { username: 'hub', password: 'pa:ss' });
  assert.deepEqual(table.get('quay.io'), { username: 'q', password: 'p' });
  assert.deepEqual(table.get('127.0.0.1:5001'), { username: 'local', password: 'pw' });
  assert.equal(table.has('ghcr.io'), false);
  assert.equal(table.size, 3);
  assert.equal(parseDockerConfig('not json').size, 0);
  assert.equal(hostOfAuthKey('registry-1.docker.io'), 'docker.io');
});

test('WWW-Authenticate challenges parse, quoted or not, one or several', () => {
  assert.deepEqual(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'), [
    { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' } },
  ]);
  assert.deepEqual(parseWwwAuthenticate('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  assert.deepEqual(parseWwwAuthenticate('Basic realm=x, Bearer realm="a\\"b", scope="s1 s2"'), [
    { scheme: 'basic', params: { realm: 'x' } },
    { scheme: 'bearer', params: { realm: 'a"b', scope: 's1 s2' } },
  ]);
  assert.deepEqual(parseWwwAuthenticate('bearer realm = "r" , service=svc'), [{ scheme: 'bearer', params: { realm: 'r', service: 'svc' } }]);
  assert.deepEqual(parseWwwAuthenticate(''), []);
});

test('proxy flags are validated into options', () => {
  const defaults = resolveProxyOptions({});
  assert.deepEqual(defaults.upstream, { host: 'quay.io', prefix: '' });
  assert.equal(defaults.ttlMs, 5 * 60_000);
  assert.ok(defaults.allowlist.allows('docker.io') && defaults.allowlist.allows('public.ecr.aws') && !defaults.allowlist.allows('evil.example'));
  assert.equal(defaults.allowlist.mayReachPrivate('quay.io'), false);
  const local = resolveProxyOptions({ upstream: '127.0.0.1:5001', allowUpstream: ['*.corp.example'], upstreamInsecure: ['127.0.0.1:5001'], proxyTtl: '1m30s' });
  assert.equal(local.ttlMs, 90_000);
  assert.ok(local.allowlist.allows('127.0.0.1:5001') && local.allowlist.mayReachPrivate('127.0.0.1:5001'), 'an explicit --upstream is allowed');
  assert.ok(!local.allowlist.allows('docker.io'), '--allow-upstream replaces the defaults');
  for (const flags of [{ upstream: 'bad host' }, { allowUpstream: ['*'] }, { upstreamInsecure: ['a/b'] }, { proxyTtl: '5' }, { proxyTtl: '-1s' }]) {
    assert.throws(() => resolveProxyOptions(flags), UsageError, JSON.stringify(flags));
  }
});

test('addProxyOptions adds the four flags, repeatable where they should be', () => {
  const command = addProxyOptions(new Command('serve').exitOverride());
  command.parse(['--upstream', '127.0.0.1:5001/broken/prepared', '--allow-upstream', 'a.example', '--allow-upstream', '*.b.example',
    '--upstream-insecure', '127.0.0.1:5001', '--proxy-ttl', '30s'], { from: 'user' });
  const flags = command.opts<ProxyFlags>();
  assert.deepEqual(flags, { upstream: '127.0.0.1:5001/broken/prepared', allowUpstream: ['a.example', '*.b.example'], upstreamInsecure: ['127.0.0.1:5001'], proxyTtl: '30s' });
  const options = resolveProxyOptions(flags);
  assert.equal(options.ttlMs, 30_000);
  assert.ok(options.allowlist.allows('x.b.example') && options.allowlist.allows('127.0.0.1:5001'));
  assert.match(command.helpInformation(), /--allow-upstream <pattern>/);
});
