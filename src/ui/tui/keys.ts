/**
 * Keyboard of the main screen, as a pure mapping from blessed's key descriptions to model
 * actions. Text keys edit the input line; Enter hands its text to `submit`.
 */

import { bufferRows, currentBuffer, type Model } from "./model.js";
import {
  cycleBuffer,
  inputComplete,
  inputDelete,
  inputInsert,
  inputMove,
  inputRecall,
  inputSubmit,
  nextUnread,
  scroll,
  switchTo,
  systemLine,
} from "./reducers.js";

/** The parts of blessed's key event this uses. */
export interface KeyPress {
  full?: string;
  name?: string;
  ctrl?: boolean;
  meta?: boolean;
}

export interface KeyContext {
  model: Model;
  commands: readonly string[];
  /** Columns and rows of the conversation pane, for PageUp/PageDown. */
  pane(): { cols: number; rows: number };
  submit(line: string): void;
  quit(): void;
  now(): number;
}

function isControl(c: string): boolean {
  const cp = c.codePointAt(0) ?? 0;
  return cp < 0x20 || cp === 0x7f;
}

/** Handles one key press; false if the key means nothing here (and nothing changed). */
export function handleKey(ctx: KeyContext, ch: string | undefined, key: KeyPress): boolean {
  const m = ctx.model;
  const full = key.full ?? "";
  const alt = /^M-([1-9])$/.exec(full);
  if (alt) {
    switchTo(m, Number(alt[1]) - 1);
    return true;
  }
  const page = (): number => Math.max(1, ctx.pane().rows - 2);
  const total = (): number => bufferRows(m, currentBuffer(m), ctx.pane().cols).length;
  switch (full) {
    case "C-c":
      ctx.quit();
      return true;
    case "C-n":
      cycleBuffer(m, 1);
      return true;
    case "C-p":
      cycleBuffer(m, -1);
      return true;
    case "M-a":
      nextUnread(m);
      return true;
    case "M-y":
      ctx.submit("/accept");
      return true;
    case "M-n":
      ctx.submit("/decline");
      return true;
    case "pageup":
      scroll(m, page(), total(), ctx.pane().rows - 1);
      return true;
    case "pagedown":
      scroll(m, -page(), total(), ctx.pane().rows - 1);
      return true;
    case "enter":
    case "return": {
      ctx.submit(inputSubmit(m));
      return true;
    }
    case "tab": {
      const matches = inputComplete(m, ctx.commands);
      if (matches.length > 1) systemLine(m, matches.join("  "), ctx.now(), m.current);
      return true;
    }
    case "backspace":
      inputDelete(m, -1);
      return true;
    case "delete":
    case "C-d":
      inputDelete(m, 1);
      return true;
    case "left":
    case "right":
    case "home":
    case "end":
      inputMove(m, full);
      return true;
    case "C-a":
      inputMove(m, "home");
      return true;
    case "C-e":
      inputMove(m, "end");
      return true;
    case "C-u":
      m.input.text = m.input.text.slice(m.input.cursor);
      m.input.cursor = 0;
      return true;
    case "up":
      inputRecall(m, -1);
      return true;
    case "down":
      inputRecall(m, 1);
      return true;
  }
  if (ch !== undefined && !key.ctrl && !key.meta && ch.length > 0 && !Array.from(ch).some(isControl)) {
    inputInsert(m, ch);
    return true;
  }
  return false;
}
