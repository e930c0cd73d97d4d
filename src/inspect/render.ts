// Turns a StoreReport into lines of text: one table row per tag (and per untagged manifest), then the
// orphan blobs, the problems and a total. Pure: the colour comes in, lines go out.
import type { ChalkInstance } from 'chalk';
import type { ManifestSummary, RepositorySummary, StoreReport } from './model.js';
import { shortDigest } from '../oci/digest.js';
import { cell, humanSize, formatTable, plural, type Cell } from './table.js';

export interface RenderOptions {
  /** Chalk at level 0 for plain text. */
  color: ChalkInstance;
  /** Full digests instead of `sha256:` and 12 hex digits. */
  fullDigests?: boolean;
}

export const UNTAGGED = '<none>';

export function renderStore(report: StoreReport, options: RenderOptions): string[] {
  const { color } = options;
  const digest = (text: string) => (options.fullDigests ? text : shortDigest(text));
  const lines = [`${color.bold('Store')} ${report.store}`, ''];

  if (report.repositories.length === 0) {
    lines.push(color.dim('No repositories.'));
  } else {
    const header = ['REPOSITORY', 'TAG', 'DIGEST', 'MEDIA TYPE', 'SIZE', 'NOTES'].map((text) => cell(text, color.bold));
    const rows: Cell[][] = [header];
    for (const repository of report.repositories) {
      const name = cell(repository.name, color.cyan);
      for (const tag of repository.tags) rows.push([name, cell(tag.tag, color.green), ...manifestCells(tag, repository, options, digest)]);
      for (const manifest of repository.untagged) {
        rows.push([name, cell(UNTAGGED, color.dim), ...manifestCells(manifest, repository, options, digest)]);
      }
      if (repository.tags.length === 0 && repository.untagged.length === 0) {
        rows.push([name, cell('-'), cell(''), cell(''), cell(''), notesCell([[cachedNote(repository), color.magenta], ['no manifests', color.dim]])]);
      }
    }
    lines.push(...formatTable(rows, ['left', 'left', 'left', 'left', 'right']));
  }

  if (report.orphanBlobs.length > 0) {
    lines.push('', color.yellow.bold('Orphan blobs') + color.dim(' (stored, but no manifest references them)'));
    const rows = [[cell('DIGEST', color.bold), cell('SIZE', color.bold)]];
    for (const blob of report.orphanBlobs) rows.push([cell(digest(blob.digest), color.yellow), cell(humanSize(blob.size))]);
    lines.push(...formatTable(rows, ['left', 'right']));
  }

  if (report.problems.length > 0) {
    lines.push('', color.red.bold('Problems'));
    const rows = report.problems.map((problem) => [
      cell(problem.repository ?? '-', color.cyan),
      cell(problem.digest === null ? '-' : digest(problem.digest), color.dim),
      cell(problem.message, color.red),
    ]);
    lines.push(...formatTable(rows));
  }

  lines.push('', summaryLine(report, color));
  return lines;
}

function manifestCells(
  manifest: ManifestSummary,
  repository: RepositorySummary,
  { color }: RenderOptions,
  digest: (text: string) => string,
): Cell[] {
  const notes: [string, (text: string) => string][] = [];
  if (manifest.kind === 'missing' && manifest.missingBlobs.length === 0) notes.push(['manifest not in repository', color.red]);
  else if (manifest.kind === 'missing') notes.push(['manifest blob missing', color.red]);
  else if (manifest.missingBlobs.length > 0) notes.push([`${plural(manifest.missingBlobs.length, 'blob')} missing`, color.red]);
  if (manifest.platforms.length > 0) notes.push([manifest.platforms.join(', '), color.blue]);
  if (manifest.kind === 'other') notes.push(['not an image', color.yellow]);
  if (manifest.subject) notes.push([`refers to ${digest(manifest.subject)}`, color.dim]);
  notes.push([cachedNote(repository), color.magenta]);
  return [
    cell(digest(manifest.digest), color.dim),
    cell(manifest.mediaType ?? '-'),
    cell(humanSize(manifest.size)),
    notesCell(notes),
  ];
}

function cachedNote(repository: RepositorySummary): string {
  return repository.cachedFrom === null ? '' : `cached from ${repository.cachedFrom}`;
}

/** Several notes in one (last) cell, each in its own colour. */
function notesCell(notes: [string, (text: string) => string][]): Cell {
  const shown = notes.filter(([text]) => text !== '');
  const text = shown.map(([note]) => note).join('; ');
  return cell(text, () => shown.map(([note, paint]) => paint(note)).join('; '));
}

function summaryLine(report: StoreReport, color: ChalkInstance): string {
  const repositories = report.repositories;
  const tags = repositories.reduce((sum, repository) => sum + repository.tags.length, 0);
  const manifests = repositories.reduce((sum, repository) => sum + repository.manifestCount, 0);
  const missing = new Set(
    repositories.flatMap((repository) => [...repository.tags, ...repository.untagged].flatMap((manifest) => manifest.missingBlobs)),
  );
  const orphanBytes = report.orphanBlobs.reduce((sum, blob) => sum + blob.size, 0);
  const parts = [
    `${plural(repositories.length, 'repository', 'repositories')}, ${plural(tags, 'tag')}, ${plural(manifests, 'manifest')}`,
    `${plural(report.blobs.count, 'blob')}, ${humanSize(report.blobs.bytes)} on disk`,
  ];
  if (report.orphanBlobs.length > 0) parts.push(color.yellow(`${plural(report.orphanBlobs.length, 'orphan blob')} (${humanSize(orphanBytes)})`));
  if (missing.size > 0) parts.push(color.red(`${plural(missing.size, 'missing blob')}`));
  return `${color.bold('Total')} ${parts.join('; ')}`;
}
