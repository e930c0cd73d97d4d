// The `proxy` scenario: every repository outside broken/ is pulled through from an upstream registry.
// Only pulls are offered; pushes and deletes on proxied names are refused by the app with DENIED.
import type { Dispatcher } from 'undici';
import type { Scenario } from '../scenarios/scenario.js';
import type { Clock } from '../clock.js';
import { listReferrers, listTags } from '../registry/discovery.js';
import { manifestReader } from '../registry/manifests.js';
import { blobReader } from '../registry/blobs.js';
import type { LookupAll } from './allowlist.js';
import { loadDockerCredentials, type CredentialTable } from './docker-config.js';
import { UpstreamClient } from './client.js';
import { PullThrough } from './pull-through.js';
import type { ProxyOptions } from './options.js';
import { upstreamFor } from './upstream-name.js';

export interface ProxyParts {
  clock: Clock;
  /** Environment for the Docker config lookup (DOCKER_CONFIG, HOME). */
  env: NodeJS.ProcessEnv;
  /** Replaces the built-in undici Agent. */
  dispatcher?: Dispatcher;
  /** Replaces DNS resolution (tests map names to 127.0.0.1). */
  lookup?: LookupAll;
  /** Hears of what failed where no client sees it: a blob not stored after its clients had it all, or had all gone. */
  warn?: (message: string) => void;
}

export interface ProxyScenario {
  scenario: Scenario;
  /** Waits for the blobs being stored, then closes the upstream connections. */
  close(): Promise<void>;
}

export function createProxyScenario(options: ProxyOptions, parts: ProxyParts): ProxyScenario {
  let credentials: Promise<CredentialTable> | undefined;
  const client = new UpstreamClient({
    options,
    credentials: () => (credentials ??= loadDockerCredentials(parts.env)),
    lookup: parts.lookup,
    now: () => parts.clock.now().getTime(),
    dispatcher: parts.dispatcher,
  });
  const proxy = new PullThrough(options, client, parts.clock, parts.warn);
  const manifest = manifestReader(proxy);
  const blob = blobReader(proxy);
  const upstream = options.upstream.prefix ? `${options.upstream.host}/${options.upstream.prefix}` : options.upstream.host;
  const scenario: Scenario = {
    name: 'proxy',
    summary: `Pull-through cache: [host/]repo:tag is fetched from that registry (default ${upstream}), stored, and served offline later.`,
    example: 'dcaravel/brokenreg:latest',
    parameters: [],
    nested: true,
    operations: {
      'manifest.get': manifest,
      'manifest.head': manifest,
      'blob.get': blob,
      'blob.head': blob,
      // What is cached here, not the upstream's lists.
      'tags.list': listTags,
      'referrers.list': listReferrers,
    },
    unsupported: (operation, name) => {
      const target = upstreamFor(name, options.upstream);
      const what = operation.startsWith('manifest') || operation.startsWith('blob') || operation.startsWith('upload') ? 'read-only' : 'not available';
      return `${name} is a pull-through copy of ${target.host}/${target.repository} and is ${what} here: push to broken/prepared or broken/prepared/<path>`;
    },
  };
  return {
    scenario,
    close: async () => {
      await proxy.close();
      await client.close();
    },
  };
}
