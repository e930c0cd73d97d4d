// The container image and the Kubernetes manifests.
//
// Always (no tools needed): the Dockerfile and deploy/*.yaml say what they must (non-root uid, the
// env, probes on /v2/ port 5000, read-only root filesystem, the store on a volume, the optional
// Secrets wired to the right paths), and agree with each other.
//
// With docker: the real Dockerfile built and run offline. No base image can be pulled here, so the
// test makes its own from this machine (test/helpers/rootfs.ts): a node-only root filesystem as the
// runtime base, and one with npm, sh and a copy of the local npm cache (npm_config_offline=true) as
// the build base, both `docker import`ed into the harness's private dockerd. The build runs with
// `--network none`, so `npm ci` really installs from the cache. The image then runs with the host's
// network on a free port, read-only, without capabilities; the test waits for its HEALTHCHECK to
// turn healthy, checks the user, pulls a generated image from it with skopeo, and stops it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { makeTempDir } from '../helpers/registry.js';
import {
  createSkopeo,
  findTool,
  missingTools,
  ok,
  requireTools,
  run,
  Scope,
  startDockerd,
  type Docker,
  type Skopeo,
} from '../helpers/clients.js';
import { importNodeBase } from '../helpers/rootfs.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const DEPLOY = path.join(ROOT, 'deploy');

const TOOLS = ['docker', 'dockerd', 'skopeo', 'tar', 'ldd', 'npm'];
const IMAGE = 'broken-reg-test/broken-reg:e2e';
const NODE_BASE = 'broken-reg-test/node-base:offline';
const BUILD_BASE = 'broken-reg-test/node-build-base:offline';
const RANDOM_REF = 'broken/random:layers-1_size-1024';
const RANDOM_DIGEST = 'sha256:74c40758cffe6cd21d3729c90a2edba699d0134ec81e42bc7c6c97ec8861cd21';
const UID = 10001;

// ---- The files themselves -------------------------------------------------------------------------

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed manifests, checked field by field
type Yaml = Record<string, any>;

/** Every document of a YAML file, via python3's yaml module; undefined when that is not installed. */
async function loadYaml(file: string): Promise<Yaml[] | undefined> {
  if (!findTool('python3')) return undefined;
  const script =
    'import json, sys, yaml\n' +
    'print(json.dumps([d for d in yaml.safe_load_all(open(sys.argv[1])) if d is not None]))';
  const result = await run('python3', ['-c', script, file], { timeoutMs: 20_000 });
  if (result.code !== 0 && /No module named .?yaml/.test(result.stderr)) return undefined;
  return JSON.parse(ok(result).stdout) as Yaml[];
}

/** The Dockerfile's instructions (continuation lines joined, comments dropped) as [keyword, rest]. */
async function dockerfileInstructions(): Promise<[string, string][]> {
  const text = await fs.readFile(path.join(ROOT, 'Dockerfile'), 'utf8');
  const joined = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
      return [keyword.toUpperCase(), rest];
    });
}

describe('Dockerfile and deploy/ (static)', () => {
  test('the Dockerfile: two stages, a non-root numeric user, env, volume, port, health check on /v2/', async () => {
    const instructions = await dockerfileInstructions();
    const all = (keyword: string) => instructions.filter(([k]) => k === keyword).map(([, rest]) => rest);
    assert.ok(all('ARG').includes('NODE_IMAGE=node:20-bookworm-slim'), 'the base is a build arg defaulting to node:20-bookworm-slim');
    const froms = all('FROM');
    assert.equal(froms.length, 2, `a build stage and a runtime stage: ${froms.join(' | ')}`);
    assert.match(froms[0] ?? '', /^\$\{NODE_IMAGE\} AS build$/);
    assert.match(froms[1] ?? '', /^\$\{RUNTIME_IMAGE\} AS runtime$/);
    const runtime = instructions.slice(instructions.findIndex(([k, rest]) => k === 'FROM' && /AS runtime/.test(rest)));
    const inRuntime = (keyword: string) => runtime.filter(([k]) => k === keyword).map(([, rest]) => rest);
    assert.deepEqual(inRuntime('RUN'), [], 'the runtime stage runs nothing: its base needs only node');
    const build = all('RUN').join(' ');
    for (const step of ['npm ci', 'npm run build', 'npm prune --omit=dev']) assert.ok(build.includes(step), `the build runs ${step}`);
    assert.deepEqual(inRuntime('USER'), [`${UID}:${UID}`], 'a numeric non-root user, so runAsNonRoot can check it');
    const env = inRuntime('ENV').join(' ');
    for (const pair of ['BIND_HOST=0.0.0.0', 'BIND_PORT=5000', 'BLOB_DIR=/data']) assert.ok(env.includes(pair), `ENV ${pair}`);
    assert.deepEqual(inRuntime('VOLUME'), ['/data']);
    assert.deepEqual(inRuntime('EXPOSE'), ['5000']);
    const healthcheck = inRuntime('HEALTHCHECK').join(' ');
    assert.match(healthcheck, /CMD \["node", "-e", ".*\/v2\/.*"\]/, 'exec form, node only, GET /v2/');
    assert.deepEqual(inRuntime('ENTRYPOINT'), ['["node", "/app/bin/broken-reg.js"]']);
    assert.deepEqual(inRuntime('CMD'), ['["serve"]']);
    const copies = inRuntime('COPY');
    assert.ok(copies.every((rest) => rest.includes('--from=build')), `the runtime copies only from the build stage: ${copies.join(' | ')}`);
  });

  test('.dockerignore keeps node_modules, dist, .git and tests out of the context', async () => {
    const lines = (await fs.readFile(path.join(ROOT, '.dockerignore'), 'utf8'))
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    // An allowlist: everything out, then only what the build stage copies back in.
    assert.equal(lines[0], '*');
    const allowed = lines.filter((line) => line.startsWith('!')).map((line) => line.slice(1).replace(/\/$/, ''));
    assert.deepEqual(allowed.sort(), ['bin', 'package-lock.json', 'package.json', 'src', 'tsconfig.json']);
  });

  test('deploy/: probes on /v2/ port 5000, non-root, read-only root, the store on a volume, optional Secrets', async (t) => {
    const deployment = await loadYaml(path.join(DEPLOY, 'deployment.yaml'));
    if (deployment === undefined) {
      // Without python3-yaml: the same facts, checked less strictly on the text.
      t.diagnostic('python3 yaml module not installed: checking deploy/*.yaml by pattern only');
      const text = await fs.readFile(path.join(DEPLOY, 'deployment.yaml'), 'utf8');
      for (const pattern of [
        /readinessProbe:\s+httpGet:\s+path: \/v2\/\s+port: 5000/,
        /livenessProbe:\s+httpGet:\s+path: \/v2\/\s+port: 5000/,
        /runAsNonRoot: true/,
        new RegExp(`runAsUser: ${UID}`),
        /readOnlyRootFilesystem: true/,
        /containerPort: 5000/,
        /mountPath: \/data/,
      ]) {
        assert.match(text, pattern);
      }
      assert.match(await fs.readFile(path.join(DEPLOY, 'service.yaml'), 'utf8'), /targetPort: 5000/);
      return;
    }
    assert.equal(deployment.length, 1);
    const [d] = deployment as [Yaml];
    assert.equal(d.apiVersion, 'apps/v1');
    assert.equal(d.kind, 'Deployment');
    const pod = d.spec.template.spec as Yaml;
    for (const [key, value] of Object.entries(d.spec.selector.matchLabels as Record<string, string>)) {
      assert.equal(d.spec.template.metadata.labels[key], value, 'the selector matches the pod labels');
    }
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, UID, 'the image user');
    assert.equal(pod.containers.length, 1);
    const c = pod.containers[0] as Yaml;
    for (const probe of ['readinessProbe', 'livenessProbe']) {
      assert.equal(c[probe]?.httpGet?.path, '/v2/', `${probe} on /v2/`);
      assert.equal(c[probe]?.httpGet?.port, 5000, `${probe} on port 5000`);
    }
    assert.ok((c.ports as Yaml[]).some((p) => p.containerPort === 5000));
    assert.equal(c.securityContext.readOnlyRootFilesystem, true);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
    assert.ok(c.resources?.requests?.memory && c.resources?.limits?.memory, 'memory request and limit');
    const env = new Map((c.env as Yaml[]).map((e) => [e.name as string, e.value as string]));
    assert.equal(env.get('BIND_HOST'), '0.0.0.0');
    assert.equal(env.get('BIND_PORT'), '5000');
    assert.equal(env.get('BLOB_DIR'), '/data');
    const volumes = new Map((pod.volumes as Yaml[]).map((v) => [v.name as string, v]));
    const mountAt = (dir: string) => (c.volumeMounts as Yaml[]).find((m) => m.mountPath === dir);
    const store = mountAt('/data');
    assert.ok(store && volumes.has(store.name), 'the store (BLOB_DIR) is a volume');
    assert.ok(!store.readOnly);
    // The Docker config Secret: mounted, optional, DOCKER_CONFIG names its directory.
    const dockerConfig = mountAt(env.get('DOCKER_CONFIG') ?? '');
    assert.ok(dockerConfig, 'DOCKER_CONFIG is a mounted directory');
    const dockerConfigVolume = volumes.get(dockerConfig.name) as Yaml;
    assert.equal(dockerConfigVolume.secret?.optional, true);
    const [secret] = (await loadYaml(path.join(DEPLOY, 'docker-config-secret.example.yaml'))) as [Yaml];
    assert.equal(secret.kind, 'Secret');
    assert.equal(secret.metadata.name, dockerConfigVolume.secret.secretName);
    assert.deepEqual(JSON.parse(secret.stringData['config.json'] as string), { auths: {} }, 'as shipped: no credentials');
    // TLS: the Secret volume is optional and mounted; the commented CERT_FILE/KEY_FILE point into it.
    const tls = (pod.volumes as Yaml[]).find((v) => v.secret?.secretName === 'broken-reg-tls');
    assert.ok(tls && tls.secret.optional === true, 'the TLS Secret volume is optional');
    const tlsMount = (c.volumeMounts as Yaml[]).find((m) => m.name === tls.name) as Yaml;
    const text = await fs.readFile(path.join(DEPLOY, 'deployment.yaml'), 'utf8');
    for (const name of ['CERT_FILE', 'KEY_FILE']) {
      const value = new RegExp(`#\\s*- name: ${name}\\s*\\n\\s*#\\s*value: (\\S+)`).exec(text)?.[1] ?? '';
      assert.ok(value.startsWith(`${tlsMount.mountPath}/`), `${name} (commented) points into the TLS mount: ${value}`);
    }
    assert.deepEqual(await loadYaml(path.join(DEPLOY, 'tls-secret.example.yaml')), [], 'the TLS example creates nothing as is');
    assert.match(await fs.readFile(path.join(DEPLOY, 'tls-secret.example.yaml'), 'utf8'), /name: broken-reg-tls/);
    // The Service reaches the pods on 5000.
    const [service] = (await loadYaml(path.join(DEPLOY, 'service.yaml'))) as [Yaml];
    assert.equal(service.kind, 'Service');
    assert.deepEqual(service.spec.selector, d.spec.selector.matchLabels);
    assert.ok((service.spec.ports as Yaml[]).some((p) => p.targetPort === 5000 || p.targetPort === 'http'));
  });
});

// ---- Building and running the image offline -------------------------------------------------------

/** A docker CLI that can use BuildKit (the buildx plugin, or a CLI before 23 with it built in). */
async function pickBuilder(): Promise<{ cli: string; buildkit: boolean }> {
  const candidates: string[] = [];
  const seen = new Set<string>();
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'docker');
    try {
      if (!dir || !statSync(candidate).isFile()) continue;
      const real = realpathSync(candidate);
      if (seen.has(real)) continue;
      seen.add(real);
      candidates.push(candidate);
    } catch {
      // not here
    }
  }
  for (const cli of candidates) {
    if ((await run(cli, ['buildx', 'version'], { timeoutMs: 10_000 })).code === 0) return { cli, buildkit: true };
    const version = /Docker version (\d+)\./.exec((await run(cli, ['--version'], { timeoutMs: 10_000 })).stdout)?.[1];
    if (version !== undefined && Number(version) < 23) return { cli, buildkit: true };
  }
  return { cli: candidates[0] ?? 'docker', buildkit: false };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}


function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

describe('the container image, built and run offline', { timeout: 240_000 }, () => {
  const scope = new Scope();
  let docker: Docker;
  let skopeo: Skopeo;
  let work: string;
  let container: string;
  let port: number;
  const timings: string[] = [];

  async function timed<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await fn();
    } finally {
      timings.push(`${label} ${seconds(performance.now() - started)}`);
    }
  }

  async function diagnostics(): Promise<string> {
    if (!container) return '';
    const logs = await docker.run(['logs', '--tail', '50', container], { timeoutMs: 10_000 });
    const health = await docker.run(['inspect', '--format', '{{json .State}}', container], { timeoutMs: 10_000 });
    return `\n--- container state\n${health.stdout}\n--- container logs\n${logs.stdout}${logs.stderr}`;
  }

  /** node -e inside the running container, its stdout parsed as JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON from the container, checked field by field
  async function nodeInContainer(script: string): Promise<any> {
    const result = ok(await docker.run(['exec', container, 'node', '-e', script], { timeoutMs: 20_000 }));
    return JSON.parse(result.stdout);
  }

  before(async () => {
    if (missingTools(...TOOLS).length > 0) return;
    work = await makeTempDir(undefined, 'broken-reg-e2e-container-');
    // Registered first, so it runs last: after the daemon (registered next) has stopped.
    scope.after(() => fs.rm(work, { recursive: true, force: true }));
    docker = await timed('dockerd start', () => startDockerd(scope));
    // Images, the build cache and the container's volume all live in the daemon's data root, removed
    // here with rm(1) once the daemon has stopped: with vfs every layer is a full copy of its tree,
    // tens of thousands of files that rm deletes faster than the harness's fs.rm (the harness's stop
    // has already unmounted everything below its temp dir).
    scope.after(async () => {
      await timed('dockerd stop', () => docker.stop());
      const dir = path.dirname(docker.socket);
      await timed('data root removal', () => run('rm', ['-rf', '--one-file-system', path.join(dir, 'data')], { timeoutMs: 120_000 }));
    });
    await timed('base images', async () => {
      const imports = await Promise.allSettled([
        importNodeBase(docker, NODE_BASE, path.join(work, 'node-base')),
        importNodeBase(docker, BUILD_BASE, path.join(work, 'build-base'), { npm: true }),
      ]);
      for (const result of imports) if (result.status === 'rejected') throw result.reason;
    });

    const builder = await pickBuilder();
    const home = path.join(work, 'home');
    await fs.mkdir(path.join(home, 'tmp'), { recursive: true });
    const build = await timed(`docker build (${builder.buildkit ? 'BuildKit' : 'classic builder'})`, () =>
      run(
        builder.cli,
        [
          '-H', `unix://${docker.socket}`,
          'build',
          ...(builder.buildkit ? ['--progress', 'plain'] : []),
          '--network', 'none',
          '--build-arg', `NODE_IMAGE=${BUILD_BASE}`,
          '--build-arg', `RUNTIME_IMAGE=${NODE_BASE}`,
          '--tag', IMAGE,
          '--file', path.join(ROOT, 'Dockerfile'),
          ROOT,
        ],
        {
          timeoutMs: 180_000,
          env: {
            PATH: process.env.PATH,
            HOME: home,
            TMPDIR: path.join(home, 'tmp'),
            DOCKER_CONFIG: path.join(work, 'docker-cli'),
            DOCKER_BUILDKIT: builder.buildkit ? '1' : '0',
          },
        },
      ),
    );
    ok(build);

    port = await freePort();
    container = `broken-reg-e2e-${process.pid}`;
    scope.after(() => docker.run(['rm', '--force', '--volumes', container], { timeoutMs: 30_000 }));
    await timed('docker run', async () =>
      ok(
        await docker.run(
          [
            'run', '--detach',
            '--name', container,
            // No bridge in the harness's dockerd: the host's network, on a free port, loopback only.
            '--network', 'host',
            '--env', `BIND_PORT=${port}`,
            '--env', 'BIND_HOST=127.0.0.1',
            // As in deploy/deployment.yaml: read-only root, no capabilities, the store on a volume.
            '--read-only',
            '--cap-drop', 'ALL',
            '--security-opt', 'no-new-privileges',
            // The image's HEALTHCHECK, checked every second instead of every ten.
            '--health-interval', '1s',
            IMAGE,
          ],
          { timeoutMs: 30_000 },
        ),
      ),
    );
    skopeo = await createSkopeo(scope, [`127.0.0.1:${port}`]);
  });

  after(async () => {
    try {
      await scope.close();
    } finally {
      if (timings.length > 0) console.log(`# container e2e timings: ${timings.join(', ')}`);
    }
  });

  test('the image: config, user, and only the app on top of the base', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    t.diagnostic(timings.join(', '));
    const config = JSON.parse(ok(await docker.run(['image', 'inspect', '--format', '{{json .Config}}', IMAGE], { timeoutMs: 20_000 })).stdout);
    assert.equal(config.User, `${UID}:${UID}`);
    for (const pair of ['BIND_HOST=0.0.0.0', 'BIND_PORT=5000', 'BLOB_DIR=/data']) assert.ok(config.Env.includes(pair), pair);
    assert.deepEqual(Object.keys(config.Volumes ?? {}), ['/data']);
    assert.deepEqual(Object.keys(config.ExposedPorts ?? {}), ['5000/tcp']);
    assert.deepEqual(config.Entrypoint, ['node', '/app/bin/broken-reg.js']);
    assert.deepEqual(config.Cmd, ['serve']);
    assert.equal(config.Healthcheck.Test[0], 'CMD');
    assert.match(config.Healthcheck.Test.join(' '), /\/v2\//);
    // Size: the runtime adds the app (compiled sources and production dependencies) to the base.
    const size = async (image: string) =>
      Number(ok(await docker.run(['image', 'inspect', '--format', '{{.Size}}', image], { timeoutMs: 20_000 })).stdout.trim());
    const added = (await size(IMAGE)) - (await size(NODE_BASE));
    t.diagnostic(`the image adds ${(added / 1024 / 1024).toFixed(1)} MiB to its base`);
    assert.ok(added > 0 && added < 40 * 1024 * 1024, `the app layers are small: ${added} bytes`);
  });

  test('the HEALTHCHECK turns healthy', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const started = performance.now();
    let status = '';
    while (performance.now() - started < 30_000) {
      const result = await docker.run(['inspect', '--format', '{{.State.Status}} {{.State.Health.Status}}', container], { timeoutMs: 10_000 });
      status = result.stdout.trim();
      if (status === 'running healthy' || !status.startsWith('running')) break;
      await delay(250);
    }
    assert.equal(status, 'running healthy', `health: ${status}${await diagnostics()}`);
    t.diagnostic(`healthy after ${seconds(performance.now() - started)} (from the first check after docker run)`);
  });

  test('it runs as the non-root user, with the store on /data', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const status = await nodeInContainer(
      "const s=require('fs').readFileSync('/proc/1/status','utf8');" +
        "console.log(JSON.stringify({uid:/^Uid:\\s+(.*)$/m.exec(s)[1].split(/\\s+/),gid:/^Gid:\\s+(.*)$/m.exec(s)[1].split(/\\s+/),cmd:require('fs').readFileSync('/proc/1/cmdline','utf8').split('\\0')}))",
    );
    assert.deepEqual(status.uid, [String(UID), String(UID), String(UID), String(UID)], 'real, effective, saved and fs uid');
    assert.deepEqual(status.gid, [String(UID), String(UID), String(UID), String(UID)]);
    assert.deepEqual(status.cmd.slice(0, 3), ['node', '/app/bin/broken-reg.js', 'serve'], 'the registry is PID 1');
    const app = await nodeInContainer(
      "const fs=require('fs');const has=(p)=>fs.existsSync(p);" +
        "console.log(JSON.stringify({app:fs.readdirSync('/app').sort(),dist:fs.readdirSync('/app/dist'),typescript:has('/app/node_modules/typescript'),express:has('/app/node_modules/express'),data:fs.statSync('/data').uid}))",
    );
    assert.deepEqual(app.app, ['bin', 'dist', 'node_modules', 'package.json']);
    assert.deepEqual(app.dist, ['src'], 'compiled sources only, no tests');
    assert.equal(app.express, true, 'production dependencies');
    assert.equal(app.typescript, false, 'no dev dependencies');
    assert.equal(app.data, UID, '/data belongs to the user');
  });

  test(`skopeo pulls ${RANDOM_REF} from it`, async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const ref = `docker://127.0.0.1:${port}/${RANDOM_REF}`;
    const raw = ok(await skopeo.inspect(ref, ['--raw'], { timeoutMs: 30_000 })).stdout;
    assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, RANDOM_DIGEST, 'the same digest as everywhere');
    const out = path.join(work, 'pulled');
    ok(await skopeo.copy(ref, `dir:${out}`, [], { timeoutMs: 30_000 }));
    const files = await fs.readdir(out);
    assert.ok(files.includes('manifest.json') && files.length >= 3, `manifest, config and layer: ${files.join(' ')}`);
    const stored = await nodeInContainer(
      "const fs=require('fs');const n=fs.readdirSync('/data',{recursive:true}).length;console.log(JSON.stringify(n))",
    );
    assert.ok(stored > 0, 'the generated image is in the store on /data');
  });

  test('docker stop ends it cleanly (SIGTERM to PID 1)', async (t) => {
    if (!requireTools(t, ...TOOLS)) return;
    const stop = ok(await docker.run(['stop', '--time', '10', container], { timeoutMs: 30_000 }));
    assert.ok(stop.ms < 9_000, `stopped on SIGTERM, not killed after the grace period: ${seconds(stop.ms)}`);
    const state = ok(await docker.run(['inspect', '--format', '{{.State.ExitCode}}', container], { timeoutMs: 10_000 })).stdout.trim();
    assert.equal(state, '0', `exit code${await diagnostics()}`);
  });
});
