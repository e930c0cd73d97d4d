// serve's auth flags, validated once into AuthOptions (the files they name are read by createAuth).
import { Option, type Command } from 'commander';
import { parseFlag, UsageError } from '../cli-error.js';
import { duration } from '../params/values.js';

export type AuthMode = 'none' | 'basic' | 'token';

export interface AuthOptions {
  mode: AuthMode;
  /** bcrypt htpasswd file: the users of basic and token auth. */
  htpasswd?: string;
  /** What a client without credentials may do: pull, or nothing. */
  anonymous: 'pull' | 'none';
  /** PEM private key that signs tokens; a fresh key at each start without it. */
  tokenKey?: string;
  /** How long an access token lives. */
  tokenTtlMs: number;
}

export interface AuthFlags {
  auth?: string;
  htpasswd?: string;
  authAnonymous?: string;
  tokenKey?: string;
  tokenTtl?: string;
}

/** distribution's default token lifetime. */
export const DEFAULT_TOKEN_TTL = '5m';

export function resolveAuthOptions(flags: AuthFlags): AuthOptions {
  const mode = flags.auth ?? 'none';
  if (mode !== 'none' && mode !== 'basic' && mode !== 'token') throw new UsageError(`--auth must be none, basic or token, got "${mode}"`);
  const anonymous = flags.authAnonymous ?? 'pull';
  if (anonymous !== 'pull' && anonymous !== 'none') throw new UsageError(`--auth-anonymous must be pull or none, got "${anonymous}"`);
  if (mode === 'basic' && !flags.htpasswd) throw new UsageError('--auth basic needs --htpasswd <file> (bcrypt entries: htpasswd -B)');
  if (mode === 'none' && flags.htpasswd) throw new UsageError('--htpasswd needs --auth basic or --auth token');
  if (mode !== 'token' && flags.tokenKey) throw new UsageError('--token-key needs --auth token');
  const ttlText = flags.tokenTtl ?? DEFAULT_TOKEN_TTL;
  const tokenTtlMs = parseFlag('--token-ttl', ttlText, duration({ positive: true }));
  return { mode, htpasswd: flags.htpasswd, anonymous, tokenKey: flags.tokenKey, tokenTtlMs };
}

export function addAuthOptions(command: Command): Command {
  return command
    .addOption(new Option('--auth <mode>', 'ask clients for credentials: none, basic (htpasswd) or token (a built-in token service at /token)').choices(['none', 'basic', 'token']).default('none'))
    .option('--htpasswd <file>', 'users for --auth basic and token, bcrypt entries (htpasswd -B), read once at start')
    .addOption(new Option('--auth-anonymous <access>', 'what clients without credentials may do').choices(['pull', 'none']).default('pull'))
    .option('--token-key <file>', 'PEM private key (EC P-256, RSA or Ed25519) that signs tokens (default: a new key at each start)')
    .option('--token-ttl <duration>', `how long a token lives (default ${DEFAULT_TOKEN_TTL})`);
}
