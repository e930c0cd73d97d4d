// The pull-through proxy: names outside broken/ come from upstream registries, cached in the store.
export { createProxyScenario, type ProxyParts } from './scenario.js';
export {
  resolveProxyOptions,
  DEFAULT_ALLOWED_UPSTREAMS,
  DEFAULT_PROXY_TTL,
  DEFAULT_TIMEOUTS,
  DEFAULT_UPSTREAM,
  type ProxyFlags,
  type ProxyOptions,
  type ProxyTimeouts,
} from './options.js';
export { upstreamFor, parseDefaultUpstream, type UpstreamName, type DefaultUpstream } from './upstream-name.js';
export type { LookupAll } from './allowlist.js';
