// The README's broken/malformed table, read back: kind, defect, where, and what each real client
// does. The README test checks the first three against the kinds table; the e2e test checks the
// clients' columns against what the clients do.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const README = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../README.md');
export const CLIENTS = ['docker', 'podman', 'skopeo', 'containerd'] as const;
export type Client = (typeof CLIENTS)[number];

/** What a client does: gets the image (`pulled`; `copied` for skopeo), or refuses it saying `fragment`. */
export type Outcome = { ok: true; word: string } | { ok: false; fragment: string };

export interface MalformedRow {
  kind: string;
  defect: string;
  where: string;
  outcomes: Record<Client, Outcome>;
}

/** Parses an outcome cell: `pulled`, `copied`, or ``refused: `fragment` ``. */
export function parseOutcome(cell: string): Outcome | undefined {
  if (cell === 'pulled' || cell === 'copied') return { ok: true, word: cell };
  const refused = /^refused: `([^`]+)`$/.exec(cell);
  return refused ? { ok: false, fragment: refused[1]! } : undefined;
}

export function formatOutcome(outcome: Outcome): string {
  return outcome.ok ? outcome.word : `refused: \`${outcome.fragment}\``;
}

/** The rows of the table under `### broken/malformed`, in order. */
export async function readMalformedTable(file = README): Promise<MalformedRow[]> {
  const readme = await fs.readFile(file, 'utf8');
  const start = readme.indexOf('\n### broken/malformed\n');
  if (start < 0) throw new Error('README.md has no ### broken/malformed section');
  const section = readme.slice(start + 1).split(/\n#{2,3} /)[0] ?? '';
  const rows: MalformedRow[] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const cells = line.slice(2, -2).split(' | ');
    const [kind, defect, where, ...outcomes] = cells;
    if (!kind || defect === undefined || !where || outcomes.length !== CLIENTS.length) throw new Error(`README malformed row: ${line}`);
    const parsed = outcomes.map((cell) => parseOutcome(cell));
    if (parsed.some((outcome) => outcome === undefined)) throw new Error(`README malformed row has an outcome that is not pulled, copied or refused: \`...\`: ${line}`);
    rows.push({
      kind: kind.replace(/^`|`$/g, ''),
      defect,
      where: where.replace(/^`|`$/g, ''),
      outcomes: Object.fromEntries(CLIENTS.map((client, i) => [client, parsed[i]!])) as Record<Client, Outcome>,
    });
  }
  return rows;
}
