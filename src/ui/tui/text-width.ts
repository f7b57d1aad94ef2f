/**
 * Terminal column widths and wrapping. A terminal draws East Asian wide and fullwidth
 * characters and most emoji in two columns, combining marks and zero-width joiners in none;
 * wrapping by `.length` would misalign every pane that shows them.
 */

/** Code point ranges drawn two columns wide (Unicode 15 East_Asian_Width W/F, emoji presentation). */
const WIDE: ReadonlyArray<readonly [number, number]> = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x23e9, 0x23ec],
  [0x23f0, 0x23f0],
  [0x23f3, 0x23f3],
  [0x25fd, 0x25fe],
  [0x2614, 0x2615],
  [0x2648, 0x2653],
  [0x267f, 0x267f],
  [0x2693, 0x2693],
  [0x26a1, 0x26a1],
  [0x26aa, 0x26ab],
  [0x26bd, 0x26be],
  [0x26c4, 0x26c5],
  [0x26ce, 0x26ce],
  [0x26d4, 0x26d4],
  [0x26ea, 0x26ea],
  [0x26f2, 0x26f3],
  [0x26f5, 0x26f5],
  [0x26fa, 0x26fa],
  [0x26fd, 0x26fd],
  [0x2705, 0x2705],
  [0x270a, 0x270b],
  [0x2728, 0x2728],
  [0x274c, 0x274c],
  [0x274e, 0x274e],
  [0x2753, 0x2755],
  [0x2757, 0x2757],
  [0x2795, 0x2797],
  [0x27b0, 0x27b0],
  [0x27bf, 0x27bf],
  [0x2b1b, 0x2b1c],
  [0x2b50, 0x2b50],
  [0x2b55, 0x2b55],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1f004, 0x1f004],
  [0x1f0cf, 0x1f0cf],
  [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a],
  [0x1f200, 0x1f251],
  [0x1f300, 0x1f64f],
  [0x1f680, 0x1f6ff],
  [0x1f7e0, 0x1f7eb],
  [0x1f90c, 0x1f9ff],
  [0x1fa70, 0x1faff],
  [0x20000, 0x2fffd],
  [0x30000, 0x3fffd],
];

function inRanges(cp: number, ranges: ReadonlyArray<readonly [number, number]>): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid] as readonly [number, number];
    if (cp < r[0]) hi = mid - 1;
    else if (cp > r[1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Columns one code point takes: 0 for controls, combining marks, joiners and variation selectors. */
export function codePointWidth(cp: number): 0 | 1 | 2 {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (
    (cp >= 0x300 && cp <= 0x36f) ||
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    (cp >= 0x1f3fb && cp <= 0x1f3ff) ||
    (cp >= 0xe0100 && cp <= 0xe01ef)
  ) {
    return 0;
  }
  return inRanges(cp, WIDE) ? 2 : 1;
}

export function stringWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += codePointWidth(ch.codePointAt(0) ?? 0);
  return w;
}

/** Control characters become visible escapes: a peer's text must never drive the terminal. */
export function sanitize(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => (c === "\t" ? "    " : "\uFFFD"));
}

/** The longest prefix of `s` that fits `cols` columns, never splitting a wide character. */
export function takeColumns(s: string, cols: number): string {
  let w = 0;
  let out = "";
  for (const ch of s) {
    const cw = codePointWidth(ch.codePointAt(0) ?? 0);
    if (w + cw > cols) break;
    w += cw;
    out += ch;
  }
  return out;
}

/** `s` cut or padded with spaces to exactly `cols` columns. */
export function fitColumns(s: string, cols: number): string {
  const cut = takeColumns(s, cols);
  return cut + " ".repeat(Math.max(0, cols - stringWidth(cut)));
}

/**
 * Wraps one logical line into rows of at most `cols` columns: at spaces where it can, inside
 * a word only when the word alone is wider than a row. Continuation rows start with `indent`.
 */
export function wrap(text: string, cols: number, indent = ""): string[] {
  const width = Math.max(1, cols);
  const indentWidth = stringWidth(indent) < width ? stringWidth(indent) : 0;
  const rows: string[] = [];
  let row = "";
  let rowWidth = 0;
  const push = (): void => {
    rows.push(row);
    row = indentWidth > 0 ? indent : "";
    rowWidth = indentWidth;
  };
  for (const word of text.split(/(?<= )/)) {
    let rest = word;
    let restWidth = stringWidth(rest);
    if (rowWidth + restWidth > width && rowWidth > indentWidth) {
      // The space that ended the row is not drawn at the row's end.
      row = row.trimEnd();
      push();
    }
    while (rowWidth + restWidth > width) {
      const piece = takeColumns(rest, width - rowWidth) || Array.from(rest)[0] || "";
      row += piece;
      rest = rest.slice(piece.length);
      restWidth = stringWidth(rest);
      push();
    }
    row += rest;
    rowWidth += restWidth;
  }
  if (rowWidth > indentWidth || rows.length === 0) rows.push(row.trimEnd());
  return rows;
}
