/**
 * Terminal column widths and wrapping, by grapheme cluster (what a user sees as one
 * character). A terminal draws East Asian wide and fullwidth characters and emoji with
 * emoji presentation in two columns, combining marks in none. Terminals disagree on three
 * newer things, so those are rules (`WidthRules`) that the renderer measures in the terminal
 * at start (render.ts asks for the cursor position after drawing a sample):
 *
 *   zwjJoins       a ZWJ sequence (👨‍👩‍👧) is one glyph as wide as its first part (tmux 3.3,
 *                  kitty, foot, WezTerm) rather than its parts side by side;
 *   vs16Wide       VS16 (U+FE0F) makes a narrow character two columns (❤️): kitty, WezTerm,
 *                  foot, iTerm2; not tmux 3.3 nor VTE;
 *   modifierJoins  a skin-tone modifier joins its base (👍🏽: two columns) rather than
 *                  drawing as a two-column square after it (tmux 3.3).
 *
 * Every width the UI computes goes through `clusterWidth`, so what the frame functions lay
 * out is what the terminal draws. Wrapping by `.length` would misalign every pane.
 */

export interface WidthRules {
  zwjJoins: boolean;
  vs16Wide: boolean;
  modifierJoins: boolean;
}

/** What Unicode's emoji and East Asian width data say; used until the terminal is measured. */
export const UNICODE_WIDTH_RULES: Readonly<WidthRules> = {
  zwjJoins: true,
  vs16Wide: true,
  modifierJoins: true,
};

let rules: WidthRules = { ...UNICODE_WIDTH_RULES };

/** The rules every width below uses from now on (the renderer sets what the terminal does). */
export function useWidthRules(r: WidthRules): void {
  rules = { ...r };
}

export function widthRules(): WidthRules {
  return { ...rules };
}

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
  // Symbols and pictographs: only those with emoji presentation by default (EAW W); the
  // rest (🌡, 🏳, 🕯…) are one column unless VS16 follows.
  [0x1f300, 0x1f320],
  [0x1f32d, 0x1f335],
  [0x1f337, 0x1f37c],
  [0x1f37e, 0x1f393],
  [0x1f3a0, 0x1f3ca],
  [0x1f3cf, 0x1f3d3],
  [0x1f3e0, 0x1f3f0],
  [0x1f3f4, 0x1f3f4],
  [0x1f3f8, 0x1f43e],
  [0x1f440, 0x1f440],
  [0x1f442, 0x1f4fc],
  [0x1f4ff, 0x1f53d],
  [0x1f54b, 0x1f54e],
  [0x1f550, 0x1f567],
  [0x1f57a, 0x1f57a],
  [0x1f595, 0x1f596],
  [0x1f5a4, 0x1f5a4],
  [0x1f5fb, 0x1f64f],
  [0x1f680, 0x1f6c5],
  [0x1f6cc, 0x1f6cc],
  [0x1f6d0, 0x1f6d2],
  [0x1f6d5, 0x1f6d7],
  [0x1f6dc, 0x1f6df],
  [0x1f6eb, 0x1f6ec],
  [0x1f6f4, 0x1f6fc],
  [0x1f7e0, 0x1f7eb],
  [0x1f7f0, 0x1f7f0],
  [0x1f90c, 0x1f93a],
  [0x1f93c, 0x1f945],
  [0x1f947, 0x1f9ff],
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

/** Columns one code point takes on its own: 0 for controls, combining marks, joiners and selectors. */
export function codePointWidth(cp: number): 0 | 1 | 2 {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (
    (cp >= 0x300 && cp <= 0x36f) ||
    (cp >= 0x1ab0 && cp <= 0x1aff) ||
    (cp >= 0x1dc0 && cp <= 0x1dff) ||
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0x20d0 && cp <= 0x20ff) ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    (cp >= 0xfe20 && cp <= 0xfe2f) ||
    (cp >= 0xe0000 && cp <= 0xe007f) ||
    (cp >= 0xe0100 && cp <= 0xe01ef)
  ) {
    return 0;
  }
  return inRanges(cp, WIDE) ? 2 : 1;
}

const ZWJ = "\u200d";
const VS16 = 0xfe0f;
const isModifier = (cp: number): boolean => cp >= 0x1f3fb && cp <= 0x1f3ff;

/** One part of a cluster between joiners: its base, and what VS16 and modifiers make of it. */
function partWidth(part: string): number {
  let w = 0;
  let first = true;
  for (const ch of part) {
    const cp = ch.codePointAt(0) ?? 0;
    if (first) {
      w = isModifier(cp) ? 2 : codePointWidth(cp);
      first = false;
    } else if (cp === VS16) {
      if (rules.vs16Wide && w === 1) w = 2;
    } else if (isModifier(cp)) {
      if (!rules.modifierJoins) w += 2;
    } else {
      w += codePointWidth(cp);
    }
  }
  return w;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** The grapheme clusters of `s`, in order. */
export function clusters(s: string): string[] {
  // Plain ASCII is one cluster per character (CR LF aside, which the UI never draws).
  if (/^[\u0020-\u007e]*$/.test(s)) return s.split("");
  return Array.from(segmenter.segment(s), (g) => g.segment);
}

/** Columns one grapheme cluster takes in the terminal, by the rules in force. */
export function clusterWidth(g: string): number {
  if (g.length === 1) return codePointWidth(g.charCodeAt(0));
  if (!g.includes(ZWJ)) return partWidth(g);
  const parts = g.split(ZWJ);
  if (rules.zwjJoins) return partWidth(parts[0] ?? "");
  return parts.reduce((n, p) => n + partWidth(p), 0);
}

export function stringWidth(s: string): number {
  let w = 0;
  for (const g of clusters(s)) w += clusterWidth(g);
  return w;
}

/**
 * Control characters become visible escapes, a tab four spaces: a peer's text must never
 * drive the terminal. `keepNewlines` keeps line breaks (a multi-line message is drawn as
 * several lines).
 */
export function sanitize(s: string, keepNewlines = false): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  return s.replace(/\r\n?|[\u0000-\u001f\u007f-\u009f]/g, (c) =>
    c === "\t" ? "    " : keepNewlines && (c === "\n" || c[0] === "\r") ? "\n" : "\uFFFD",
  );
}

/** The longest prefix of `s` that fits `cols` columns, never splitting a cluster. */
export function takeColumns(s: string, cols: number): string {
  let w = 0;
  let out = "";
  for (const g of clusters(s)) {
    const cw = clusterWidth(g);
    if (w + cw > cols) break;
    w += cw;
    out += g;
  }
  return out;
}

/** `s` cut or padded with spaces to exactly `cols` columns. */
export function fitColumns(s: string, cols: number): string {
  const cut = takeColumns(s, cols);
  return cut + " ".repeat(Math.max(0, cols - stringWidth(cut)));
}

/**
 * The cells a row of text occupies: one entry per column, a cluster in its first column and
 * "" in the columns a wide one covers. What the terminal is meant to show, cell by cell.
 */
export function cells(s: string): string[] {
  const out: string[] = [];
  for (const g of clusters(s)) {
    const w = clusterWidth(g);
    if (w === 0) {
      // A lone mark the terminal puts on the cell before (none: drawn where it stands).
      if (out.length > 0) out[out.length - 1] += g;
      else out.push(g);
      continue;
    }
    out.push(g);
    for (let i = 1; i < w; i++) out.push("");
  }
  return out;
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
      const piece = takeColumns(rest, width - rowWidth) || clusters(rest)[0] || "";
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
