/**
 * The terminal side of the UI. blessed does what it is good at: the terminal's modes
 * (alternate screen, raw input, hidden cursor), decoding key presses, resize, title and
 * bell. The drawing is ours: blessed 0.1.81 keeps one cell per code point and its own width
 * table (every emoji one column, no grapheme clusters), so whatever we gave it drew emoji,
 * ZWJ sequences and VS16 wrong and shifted the rest of the row. Here each row of frame()
 * goes out as one string positioned at the row's start; the frame was laid out with
 * text-width.ts, whose rules were measured in this terminal at start (`probeWidths`), so
 * what the model meant is what the terminal shows. Rows that did not change are not sent.
 *
 * Draws are throttled to one per FRAME_MS however many events arrive, so a burst of
 * messages or a fast transfer never starves the keyboard. A timer redraws when the minute
 * on the clock changes. Time and timers come from the `Runtime` the composition root gives.
 */

import { writeFileSync } from "node:fs";
import { PassThrough } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { ReadStream } from "node:tty";
import blessed from "blessed";
import type { Runtime, Timer } from "../../runtime.js";
import { DrawThrottle } from "./draw-throttle.js";
import type { Row, Style } from "./frame.js";
import { type Model, totalUnread } from "./model.js";
import { screenFrame } from "./setup-frame.js";
import { InputSplitter } from "./terminal-input.js";
import { cells, UNICODE_WIDTH_RULES, useWidthRules, type WidthRules } from "./text-width.js";

/** At most ~20 draws a second; input stays responsive under any event rate. */
export const FRAME_MS = 50;
/** How long the terminal has to answer the width probe before Unicode's rules are used. */
export const PROBE_MS = 500;

const SGR: Record<Style, string> = {
  plain: "",
  dim: "\x1b[90m",
  bold: "\x1b[1m",
  inverse: "\x1b[7m",
  own: "\x1b[36m",
  system: "\x1b[32m",
  error: "\x1b[31m",
  highlight: "\x1b[33m",
};
const RESET = "\x1b[0m";
const CSI = "\x1b[";

/** Nothing from a row may drive the terminal: the frame is sanitized, this is the last guard. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/** One row as the bytes that draw it from its first column, styles reset at the end. */
export function rowText(r: Row): string {
  let out = "";
  for (const s of r) {
    const colour =
      (s.fg === undefined ? "" : `${CSI}38;5;${s.fg}m`) + (s.bg === undefined ? "" : `${CSI}48;5;${s.bg}m`);
    out += (s.style === "plain" ? "" : SGR[s.style]) + colour + s.text.replace(CONTROL, "\uFFFD") + RESET;
  }
  return out;
}

/** The samples whose drawn widths decide the rules (text-width.ts). */
const PROBES: ReadonlyArray<{ sample: string; rule: keyof WidthRules; ifJoined: number }> = [
  { sample: "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}", rule: "zwjJoins", ifJoined: 2 },
  { sample: "\u2764\ufe0f", rule: "vs16Wide", ifJoined: 2 },
  { sample: "\u{1f44d}\u{1f3fd}", rule: "modifierJoins", ifJoined: 2 },
];

/** The rules from the columns the cursor moved for each probe sample (undefined: not answered). */
export function rulesFromProbe(cols: ReadonlyArray<number | undefined>): WidthRules {
  const r: WidthRules = { ...UNICODE_WIDTH_RULES };
  PROBES.forEach((p, i) => {
    const w = cols[i];
    if (w !== undefined) r[p.rule] = w === p.ifJoined;
  });
  return r;
}

type KeyInput = PassThrough & { isTTY: boolean; isRaw: boolean; setRawMode(mode: boolean): KeyInput };

export class TuiRenderer {
  readonly screen: blessed.Widgets.Screen;
  private readonly throttle: DrawThrottle;
  private bellsRung: number;
  private destroyed = false;
  private title = "Hallway";
  /** What each row of the terminal shows now, as drawn; "" forces a row out. */
  private shown: string[] = [];
  private clearFirst = true;
  private probing = true;
  private clockTimer: Timer | undefined;
  private readonly splitter = new InputSplitter();
  private onCursor: ((row: number, col: number) => void) | undefined;
  /** A paste (one string, line breaks kept), for the composition root. */
  onPaste: (text: string) => void = () => {};

  /**
   * A stream of its own on the terminal: anything that read process.stdin through readline
   * before (a prompt) leaves its keypress decoder attached to it, which would hand blessed
   * every key a second time. What it reads goes through the splitter; blessed gets the keys.
   */
  private readonly terminal = new ReadStream(0);

  constructor(
    private readonly model: Model,
    /** The wall clock for the times on screen; the monotonic one and timers for drawing. */
    private readonly runtime: Runtime,
    /** Where to write each frame's cells as JSON (a debugging aid, and what the tmux tests compare). */
    private readonly frameFile?: string,
  ) {
    const keys = new PassThrough() as KeyInput;
    const terminal = this.terminal;
    keys.isTTY = true;
    Object.defineProperty(keys, "isRaw", { get: () => terminal.isRaw });
    keys.setRawMode = (mode: boolean) => {
      terminal.setRawMode(mode);
      return keys;
    };
    const decoder = new StringDecoder("utf8");
    terminal.on("data", (b: Buffer) => {
      for (const piece of this.splitter.push(decoder.write(b))) {
        if (piece.kind === "keys") keys.write(piece.data);
        else if (piece.kind === "paste") this.onPaste(piece.text);
        else this.onCursor?.(piece.row, piece.col);
      }
    });
    this.screen = blessed.screen({
      input: keys,
      fullUnicode: true,
      forceUnicode: true,
      autoPadding: false,
      title: "Hallway",
    });
    // blessed draws nothing: every row is ours (see the top of this file).
    (this.screen as unknown as { render(): void }).render = () => {};
    this.bellsRung = model.bells;
    this.throttle = new DrawThrottle(() => this.paint(), FRAME_MS, runtime);
    this.screen.on("resize", () => this.redraw());
    // Pastes arrive bracketed (ESC[200~ … ESC[201~) from terminals that can.
    this.write(`${CSI}?2004h`);
    this.probeWidths();
    this.tickClock();
  }

  get cols(): number {
    return this.screen.cols;
  }

  get rows(): number {
    return this.screen.rows;
  }

  /** Draw soon: at once if the last draw is FRAME_MS old, else when it will be. */
  schedule(): void {
    this.throttle.schedule();
  }

  /** Draw now (the first frame). */
  draw(): void {
    this.throttle.drawNow();
  }

  /** Everything again, from a cleared screen (Ctrl+L, a resize). */
  redraw(): void {
    this.shown = [];
    this.clearFirst = true;
    this.throttle.drawNow();
  }

  private write(s: string): void {
    (this.screen.program as unknown as { _write(s: string): void })._write(s);
  }

  /**
   * Draws the samples at the top left and asks where the cursor ended (CSI 6n) after each;
   * the answers set the width rules. No answer within PROBE_MS: Unicode's rules. Nothing
   * is drawn until then; the first frame clears the samples away.
   */
  private probeWidths(): void {
    const cols: Array<number | undefined> = PROBES.map(() => undefined);
    let answered = 0;
    const done = (): void => {
      if (!this.probing) return;
      this.probing = false;
      timer.cancel();
      this.onCursor = undefined;
      this.splitter.stopAwaitingCursor();
      useWidthRules(rulesFromProbe(cols));
      this.redraw();
    };
    const timer = this.runtime.after(PROBE_MS, done);
    this.onCursor = (_row, col) => {
      if (answered < cols.length) cols[answered] = col - 1;
      answered++;
      if (answered >= cols.length) done();
    };
    this.splitter.awaitCursor(PROBES.length);
    this.write(PROBES.map((p) => `${CSI}1;1H${CSI}2K${p.sample}${CSI}6n`).join(""));
  }

  /** A draw when the minute changes, so the status line's clock never stands still. */
  private tickClock(): void {
    const now = this.runtime.wall();
    this.clockTimer = this.runtime.after(
      60_000 - (now % 60_000) + 50,
      () => {
        this.schedule();
        this.tickClock();
      },
      { weak: true },
    );
  }

  private paint(): void {
    if (this.destroyed || this.probing) return;
    const rows = screenFrame(this.model, this.cols, this.rows, this.runtime.wall());
    let out = this.clearFirst ? `${RESET}${CSI}2J` : "";
    this.clearFirst = false;
    rows.forEach((r, i) => {
      const text = rowText(r);
      if (this.shown[i] === text) return;
      this.shown[i] = text;
      out += `${CSI}${i + 1};1H${text}`;
    });
    this.shown.length = rows.length;
    if (out !== "") this.write(out);
    if (this.frameFile) this.dumpFrame(rows);
    const unread = totalUnread(this.model);
    const title = unread > 0 ? `(${unread}) Hallway` : "Hallway";
    // Each title change is an escape sequence to the terminal: only when it changes.
    if (title !== this.title) {
      this.title = title;
      this.screen.title = title;
    }
    if (this.model.bells > this.bellsRung) {
      this.bellsRung = this.model.bells;
      this.screen.program.bell();
    }
  }

  private dumpFrame(rows: Row[]): void {
    const frame = {
      cols: this.cols,
      rows: this.rows,
      cells: rows.map((r) => cells(r.map((s) => s.text).join(""))),
    };
    try {
      writeFileSync(this.frameFile as string, JSON.stringify(frame));
    } catch {
      // A debugging aid: a file that cannot be written costs nothing else.
    }
  }

  /** Gives the terminal back (normal screen, cursor, cooked mode). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.throttle.stop();
    this.clockTimer?.cancel();
    this.write(`${CSI}?2004l`);
    this.screen.destroy();
    this.terminal.destroy();
  }
}
