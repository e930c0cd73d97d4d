// Flags more than one place registers: the proxy's four serve flags, and the repeatable-flag collector.
// The proxy exports only their types and defaults; turning them into commander options is the CLI's job.
import type { Command } from 'commander';
import { DEFAULT_ALLOWED_UPSTREAMS, DEFAULT_PROXY_TTL, DEFAULT_UPSTREAM } from '../proxy/index.js';

/** For a repeatable flag: each use appends its value. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Adds --upstream, --allow-upstream, --upstream-insecure and --proxy-ttl to a command. */
export function addProxyOptions(command: Command): Command {
  return command
    .option(
      '--upstream <host>',
      `registry for names without a host, host[:port][/repository-prefix] (default ${DEFAULT_UPSTREAM})`,
    )
    .option(
      '--allow-upstream <pattern>',
      `host the proxy may fetch from: host, host:port or *.domain (repeatable; default the upstream plus ${DEFAULT_ALLOWED_UPSTREAMS.join(', ')}). ` +
        'Private and loopback addresses need an exact pattern',
      collect,
    )
    .option('--upstream-insecure <host>', 'talk plain HTTP to this upstream host[:port] (repeatable; default HTTPS)', collect)
    .option('--proxy-ttl <duration>', `re-check a cached tag upstream at most this often (default ${DEFAULT_PROXY_TTL})`);
}
