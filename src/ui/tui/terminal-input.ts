/**
 * What comes from the terminal, split before blessed's key decoder sees it. blessed turns
 * every byte into a key press, so a pasted "a⏎b⏎c" would be three lines sent one by one,
 * and a cursor position report (the answer to a width probe, render.ts) would look like
 * Ctrl+F3. This splitter takes out:
 *
 *   paste   a bracketed paste (ESC[200~ … ESC[201~, which the UI turns on; xterm, VTE,
 *           kitty, iTerm2, Windows Terminal and tmux bracket pastes). A read holding a line
 *           break and more text is *not* taken for a paste: key presses typed quickly over a
 *           slow link (or by tmux send-keys) arrive that way too, and guessing wrong would
 *           eat a typed line;
 *   cursor  ESC[row;colR, only while reports are awaited (`awaitCursor`), so a key that
 *           happens to look like one is never eaten at other times;
 *   keys    everything else, for blessed.
 *
 * Sans-IO: strings in, pieces out. A sequence cut between two reads is carried over, but
 * never a lone ESC (that is the Escape key, and blessed times it out on its own).
 */

export type InputPiece =
  | { kind: "keys"; data: string }
  | { kind: "paste"; text: string }
  | { kind: "cursor"; row: number; col: number };

const PASTE_START = "\x1b[200~";
const PASTE_END = "\x1b[201~";
/** Largest paste kept; the rest is dropped (the input line would not hold it anyway). */
export const MAX_PASTE_CHARS = 64 * 1024;

// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal sequences are the point
const CURSOR_REPORT = /\x1b\[(\d{1,4});(\d{1,4})R/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal sequences are the point
const PARTIAL_TAIL = /\x1b\[[0-9;]{0,9}$/;

export class InputSplitter {
  private paste: string | undefined;
  private carry = "";
  private cursorsAwaited = 0;

  /** The next `n` cursor position reports are taken out as `cursor` pieces. */
  awaitCursor(n: number): void {
    this.cursorsAwaited += n;
  }

  /** No more reports are awaited (the probe timed out). */
  stopAwaitingCursor(): void {
    this.cursorsAwaited = 0;
  }

  push(chunk: string): InputPiece[] {
    let data = this.carry + chunk;
    this.carry = "";
    const out: InputPiece[] = [];
    while (data.length > 0) {
      if (this.paste !== undefined) {
        const end = data.indexOf(PASTE_END);
        if (end < 0) {
          const tail = partialTail(data);
          this.addPaste(data.slice(0, data.length - tail.length));
          this.carry = tail;
          return out;
        }
        this.addPaste(data.slice(0, end));
        out.push({ kind: "paste", text: this.paste });
        this.paste = undefined;
        data = data.slice(end + PASTE_END.length);
        continue;
      }
      const start = data.indexOf(PASTE_START);
      const report = this.cursorsAwaited > 0 ? CURSOR_REPORT.exec(data) : null;
      const at = Math.min(
        start < 0 ? Number.POSITIVE_INFINITY : start,
        report ? report.index : Number.POSITIVE_INFINITY,
      );
      if (at === Number.POSITIVE_INFINITY) {
        const tail = partialTail(data);
        keys(out, data.slice(0, data.length - tail.length));
        this.carry = tail;
        return out;
      }
      keys(out, data.slice(0, at));
      if (report && report.index === at) {
        this.cursorsAwaited--;
        out.push({ kind: "cursor", row: Number(report[1]), col: Number(report[2]) });
        data = data.slice(at + report[0].length);
      } else {
        this.paste = "";
        data = data.slice(at + PASTE_START.length);
      }
    }
    return out;
  }

  private addPaste(text: string): void {
    const room = MAX_PASTE_CHARS - (this.paste ?? "").length;
    this.paste = (this.paste ?? "") + text.slice(0, Math.max(0, room));
  }
}

/**
 * The start of a CSI sequence cut at the end of a read ("ESC[2", "ESC[12;"): kept for the
 * next read, which completes it. A lone ESC is the Escape key and goes on at once.
 */
function partialTail(data: string): string {
  const m = PARTIAL_TAIL.exec(data);
  return m && m[0].length >= 2 ? m[0] : "";
}

function keys(out: InputPiece[], data: string): void {
  if (data !== "") out.push({ kind: "keys", data });
}
