// Aligned plain-text tables whose cells may be coloured: widths come from the plain text, colour is
// applied after padding, so the layout is the same with colour on or off.

export interface Cell {
  text: string;
  /** Colours the text (never the padding); identity when colour is off. */
  paint?: (text: string) => string;
}

export type Align = 'left' | 'right';

export const GAP = '  ';

export function cell(text: string, paint?: (text: string) => string): Cell {
  return paint ? { text, paint } : { text };
}

/** Lines of the rows, each column as wide as its widest cell; no trailing spaces. */
export function formatTable(rows: Cell[][], align: Align[] = []): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((item, column) => (widths[column] = Math.max(widths[column] ?? 0, item.text.length)));
  }
  return rows.map((row) => {
    const parts = row.map((item, column) => {
      const width = widths[column] ?? 0;
      const padding = ' '.repeat(width - item.text.length);
      const painted = item.text && item.paint ? item.paint(item.text) : item.text;
      return align[column] === 'right' ? padding + painted : painted + padding;
    });
    return parts.join(GAP).trimEnd();
  });
}

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** Bytes for people: `512 B`, `1.5 KiB`, `12.0 MiB`; `-` when unknown. (params/size.ts formatSize writes the tag grammar, `1536k`.) */
export function humanSize(bytes: number | null): string {
  if (bytes === null) return '-';
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
