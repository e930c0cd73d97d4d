// Turns an ImageTree into lines of text: a short header, then the tree (index -> manifests -> config
// and layers) as an aligned table with missing blobs marked. Pure: the colour comes in, lines go out.
import type { ChalkInstance } from 'chalk';
import type { ImageTree, TreeNode } from './model.js';
import { platformText } from './manifest.js';
import type { RenderOptions } from './render.js';
import { shortDigest } from '../oci/digest.js';
import { cell, humanSize, formatTable, plural, type Cell } from './table.js';

export const MISSING = 'MISSING';

export function renderTree(tree: ImageTree, options: RenderOptions): string[] {
  const { color } = options;
  const header: Cell[][] = [
    [cell('Reference', color.bold), cell(tree.reference, color.cyan)],
    [cell('Digest', color.bold), cell(tree.digest)],
    [cell('Media type', color.bold), cell(tree.root.mediaType ?? '-')],
    [cell('Size', color.bold), cell(humanSize(tree.size))],
  ];
  if (tree.cachedFrom !== null) header.push([cell('Cached from', color.bold), cell(tree.cachedFrom, color.magenta)]);

  const rows: Cell[][] = [['TREE', 'DIGEST', 'SIZE', 'MEDIA TYPE', 'STATUS'].map((text) => cell(text, color.bold))];
  const walk = (node: TreeNode, lead: string, branch: string): void => {
    rows.push(nodeRow(node, lead + branch, options));
    node.children.forEach((child, index) => {
      const last = index === node.children.length - 1;
      walk(child, lead + (branch === '' ? '' : branch === '└── ' ? '    ' : '│   '), last ? '└── ' : '├── ');
    });
  };
  walk(tree.root, '', '');

  const lines = [...formatTable(header), '', ...formatTable(rows, ['left', 'left', 'right']), ''];
  if (tree.missingBlobs.length === 0) {
    lines.push(color.green('All blobs present.'));
  } else {
    lines.push(color.red(`${plural(tree.missingBlobs.length, 'blob')} missing from the store:`));
    for (const digest of tree.missingBlobs) lines.push(`  ${color.red(digest)}`);
  }
  return lines;
}

function nodeRow(node: TreeNode, prefix: string, { color, fullDigests }: RenderOptions): Cell[] {
  const role = node.role === 'layer' || node.role === 'config' ? node.role : color.bold(node.role);
  const platform = node.platform ? platformText(node.platform) : '';
  const attests = node.attestationOf ? `attestation of ${shortDigest(node.attestationOf)}` : '';
  const label = [prefix + node.role, platform, attests].filter(Boolean).join(' ');
  const paintLabel = () => [color.dim(prefix) + role, platform ? color.blue(platform) : '', attests ? color.dim(attests) : ''].filter(Boolean).join(' ');
  return [
    cell(label, paintLabel),
    cell(fullDigests ? node.digest : shortDigest(node.digest), color.dim),
    cell(humanSize(node.size)),
    cell(node.mediaType ?? '-'),
    statusCell(node, color),
  ];
}

function statusCell(node: TreeNode, color: ChalkInstance): Cell {
  const parts: [string, (text: string) => string][] = [];
  if (!node.present) parts.push([MISSING, color.red.bold]);
  if (node.problem) parts.push([node.problem, color.yellow]);
  return cell(parts.map(([text]) => text).join('; '), () => parts.map(([text, paint]) => paint(text)).join('; '));
}
