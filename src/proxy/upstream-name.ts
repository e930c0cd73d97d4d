// Which upstream registry a proxied repository name comes from. Pure: no I/O.
//
//   dcaravel/brokenreg            -> the default upstream (quay.io unless --upstream), dcaravel/brokenreg
//   docker.io/nginx               -> Docker Hub (API host registry-1.docker.io), library/nginx
//   ghcr.io/org/app               -> ghcr.io, org/app
//
// The first path component names a host when it contains "." or ":" or is "localhost". A repository
// name cannot carry a port (the OCI name grammar has no ":"), so an upstream with a port can only be the
// default one: `--upstream 127.0.0.1:5001`. The default upstream may also carry a repository prefix,
// `--upstream 127.0.0.1:5001/broken/prepared`, which is put in front of every name sent to it.

export const DOCKER_HUB = 'docker.io';
export const DOCKER_HUB_API = 'registry-1.docker.io';

/** The default upstream, parsed from `host[:port][/prefix]`. */
export interface DefaultUpstream {
  host: string;
  prefix: string;
}

export interface UpstreamName {
  /** The registry as named: `quay.io`, `docker.io`, `127.0.0.1:5001`. Allowlists and credentials use it. */
  host: string;
  /** The host:port requests go to (`registry-1.docker.io` for `docker.io`). */
  apiHost: string;
  /** The repository on the upstream. */
  repository: string;
}

const HOST = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;

export function isHostComponent(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/** Lower-cases a host and drops the aliases of Docker Hub to `docker.io`. */
export function canonicalHost(host: string): string {
  const lower = host.toLowerCase();
  if (lower === 'index.docker.io' || lower === DOCKER_HUB_API || lower === 'registry.hub.docker.com') return DOCKER_HUB;
  return lower;
}

/** Parses `host[:port][/prefix]`; returns an error message instead when it is not one. */
export function parseDefaultUpstream(text: string): DefaultUpstream | string {
  const trimmed = text.trim().replace(/^https?:\/\//, '').replace(/\/+$/, '');
  const slash = trimmed.indexOf('/');
  const host = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const prefix = slash < 0 ? '' : trimmed.slice(slash + 1);
  if (!HOST.test(host)) return `"${text}" is not a registry host (host[:port][/repository-prefix])`;
  const port = /:(\d+)$/.exec(host)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return `"${text}" has a bad port`;
  if (prefix && !prefix.split('/').every((part) => PATH_COMPONENT.test(part))) {
    return `"${text}": the repository prefix "${prefix}" is not a valid repository path`;
  }
  return { host: canonicalHost(host), prefix };
}

/** The host requests for a named registry go to. */
export function apiHostOf(host: string): string {
  return host === DOCKER_HUB ? DOCKER_HUB_API : host;
}

/** Maps a (grammar-checked) repository name to its upstream registry and repository. */
export function upstreamFor(name: string, defaults: DefaultUpstream): UpstreamName {
  const slash = name.indexOf('/');
  const first = slash < 0 ? name : name.slice(0, slash);
  let host: string;
  let repository: string;
  if (slash >= 0 && isHostComponent(first)) {
    host = canonicalHost(first);
    repository = name.slice(slash + 1);
  } else {
    host = defaults.host;
    repository = defaults.prefix ? `${defaults.prefix}/${name}` : name;
  }
  if (host === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  return { host, apiHost: apiHostOf(host), repository };
}
