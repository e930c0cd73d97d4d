// broken-reg journal --url URL [--follow] [--json]: a running registry's request journal, for shell
// scripts. One line per request, as serve logs it (or one JSON object per line with --json); --follow
// keeps printing new entries from the server-sent event stream until the server ends it or the
// command is interrupted. Self-contained: journal() takes where to write, the command wires stdout.
import { Command } from 'commander';
import { CliError } from '../cli-error.js';
import type { Io, Signals } from './io.js';
import { formatJson, formatText, type RequestLogEntry } from '../server/log.js';

export interface JournalOptions {
  url: string;
  follow?: boolean;
  json?: boolean;
  since?: string;
  repository?: string;
  operation?: string;
  status?: string;
  /** --admin-token of a registry reached from outside its --admin-allow addresses. */
  token?: string;
}

export function journalCommand(io: Io): Command {
  return new Command('journal')
    .description("Print a running registry's request journal (GET /_broken/journal).")
    .requiredOption('--url <url>', 'the registry, e.g. http://127.0.0.1:5000')
    .option('--follow', 'keep printing new requests as they are answered')
    .option('--json', 'one JSON object per line')
    .option('--since <seq>', 'only entries after this sequence number')
    .option('--repository <glob>', 'only these repositories (* within a path component, ** across)')
    .option('--operation <op>', 'only this operation or family (manifest.get, blob, upload)')
    .option('--status <status>', 'only this status (503) or class (5xx)')
    .option('--token <token>', 'the --admin-token, when the registry is not on this machine')
    .action(async (options: JournalOptions) => {
      await journal(options, (text) => void io.stdout.write(text), io.signals);
    });
}

export async function journal(options: JournalOptions, write: (text: string) => void, signals?: Signals): Promise<void> {
  let base: URL;
  try {
    base = new URL(options.url);
  } catch {
    throw new CliError(`--url: "${options.url}" is not a URL`, 2);
  }
  const query = new URLSearchParams();
  for (const key of ['since', 'repository', 'operation', 'status'] as const) {
    const value = options[key];
    if (value !== undefined) query.set(key, value);
  }
  const target = new URL(`/_broken/journal${options.follow ? '/stream' : ''}${query.size ? `?${query}` : ''}`, base);
  const headers: Record<string, string> = options.token ? { Authorization: `Bearer ${options.token}` } : {};
  const format = options.json ? formatJson : formatText;
  const print = (entry: RequestLogEntry) => write(`${format(entry)}\n`);
  const controller = new AbortController();
  const stopListening = signals?.onStop(() => controller.abort()) ?? (() => undefined);
  try {
    const response = await fetch(target, { headers, signal: controller.signal }).catch((error: Error & { cause?: { code?: string; message?: string } }) => {
      throw new CliError(`cannot reach ${base.origin}: ${error.cause?.code ?? error.cause?.message ?? error.message}`);
    });
    if (!response.ok) throw new CliError(`${target.pathname}: ${response.status} ${await errorMessage(response)}`);
    if (!options.follow) {
      const { entries } = (await response.json()) as { entries: RequestLogEntry[] };
      for (const entry of entries) print(entry);
      return;
    }
    await readEvents(response, print).catch((error: Error) => {
      if (!controller.signal.aborted) throw new CliError(`the stream from ${base.origin} broke: ${error.message}`);
    });
  } finally {
    stopListening();
  }
}

/** Reads server-sent events, calling print with each `data:` payload. */
async function readEvents(response: Response, print: (entry: RequestLogEntry) => void): Promise<void> {
  if (!response.body) return;
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of response.body) {
    pending += decoder.decode(chunk as Uint8Array, { stream: true });
    let end: number;
    while ((end = pending.indexOf('\n\n')) >= 0) {
      const event = pending.slice(0, end);
      pending = pending.slice(end + 2);
      const data = event
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(5).trimStart())
        .join('\n');
      if (data) print(JSON.parse(data) as RequestLogEntry);
    }
  }
}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text();
  try {
    return (JSON.parse(text) as { errors: { message: string }[] }).errors[0]?.message ?? text.slice(0, 200);
  } catch {
    return text.slice(0, 200);
  }
}
