/**
 * The blessed side of the terminal UI: one full-screen box whose content is frame()'s rows.
 * It owns no state of its own; draws are throttled to one per FRAME_MS however many events
 * arrive, so a burst of messages or a fast transfer never starves the keyboard.
 */

import { ReadStream } from "node:tty";
import blessed from "blessed";
import { DrawThrottle } from "./draw-throttle.js";
import type { Row, Style } from "./frame.js";
import { type Model, totalUnread } from "./model.js";
import { screenFrame } from "./setup-frame.js";

/** At most ~20 draws a second; input stays responsive under any event rate. */
export const FRAME_MS = 50;

const OPEN: Record<Style, string> = {
  plain: "",
  dim: "{gray-fg}",
  bold: "{bold}",
  inverse: "{inverse}",
  own: "{cyan-fg}",
  system: "{green-fg}",
  error: "{red-fg}",
  highlight: "{yellow-fg}",
};
const CLOSE: Record<Style, string> = {
  plain: "",
  dim: "{/gray-fg}",
  bold: "{/bold}",
  inverse: "{/inverse}",
  own: "{/cyan-fg}",
  system: "{/green-fg}",
  error: "{/red-fg}",
  highlight: "{/yellow-fg}",
};

function toTags(rows: Row[]): string {
  return rows
    .map((r) => r.map((s) => OPEN[s.style] + blessed.escape(s.text) + CLOSE[s.style]).join(""))
    .join("\n");
}

export class TuiRenderer {
  readonly screen: blessed.Widgets.Screen;
  private readonly box: blessed.Widgets.BoxElement;
  private readonly throttle: DrawThrottle;
  private bellsRung: number;
  private destroyed = false;
  private title = "Hallway";

  /**
   * A stream of its own on the terminal: anything that read process.stdin through readline
   * before (a prompt) leaves its keypress decoder attached to it, which would hand blessed
   * every key a second time.
   */
  private readonly input = new ReadStream(0);

  constructor(
    private readonly model: Model,
    private readonly now: () => number = Date.now,
  ) {
    this.screen = blessed.screen({
      input: this.input,
      // smartCSR's line diffing left stale cells after wide characters; full redraws do not.
      smartCSR: false,
      fullUnicode: true,
      forceUnicode: true,
      autoPadding: false,
      title: "Hallway",
    });
    // The UI draws CJK and emoji, so it needs a UTF-8 terminal anyway; box-drawing characters
    // then go out as UTF-8 too, not as VT100 line-drawing (ACS), which screen captures show
    // as letters ("x" for "│").
    (this.screen as unknown as { tput: { brokenACS: boolean } }).tput.brokenACS = true;
    this.box = blessed.box({ top: 0, left: 0, width: "100%", height: "100%", tags: true, wrap: false });
    this.screen.append(this.box);
    this.bellsRung = model.bells;
    this.throttle = new DrawThrottle(() => this.paint(), FRAME_MS);
    this.screen.on("resize", () => this.draw());
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

  /** Draw now (the first frame, a resize). */
  draw(): void {
    this.throttle.drawNow();
  }

  private paint(): void {
    if (this.destroyed) return;
    this.box.setContent(toTags(screenFrame(this.model, this.cols, this.rows, this.now())));
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
    this.screen.render();
  }

  /** Gives the terminal back (normal screen, cursor, cooked mode). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.throttle.stop();
    this.screen.destroy();
    this.input.destroy();
  }
}
