/**
 * The keyboard, as a pure mapping from blessed's key descriptions to model actions: the
 * main screen's (`handleKey`: text keys edit the input line, Enter hands its text to
 * `submit`) and the registry and login screens' (`handleSetupKey`).
 *
 * One key press is one action. blessed reports a carriage return twice, as "enter" and then
 * as "return" (program.js makes the first from the second), so only "enter" means Enter
 * here; a line feed (Ctrl+J) is "linefeed" and means nothing. The editing keys are
 * readline's: Ctrl+A/E start and end, Ctrl+B/F and Alt+B/F by character and word, Ctrl+W
 * and Alt+Backspace the word before the cursor, Ctrl+K to the end, Ctrl+U to the start,
 * Ctrl+L (index.ts, on every screen) redraws the screen.
 */

import type { RegistryChoice } from "../registry-choice.js";
import { bufferRows, currentBuffer, effectiveScroll, lastRows, type Model } from "./model.js";
import {
  cycleBuffer,
  inputComplete,
  inputCompleteArgument,
  inputDelete,
  inputInsert,
  inputKill,
  inputMove,
  inputRecall,
  inputSubmit,
  nextUnread,
  scroll,
  switchTo,
  systemLine,
  togglePreviews,
} from "./reducers.js";
import {
  type Credentials,
  loginErase,
  loginFocus,
  loginSubmit,
  loginToggleRegister,
  loginType,
  registryMove,
  registryPick,
} from "./setup.js";
import { scrollFeed, toggleSimple } from "./simple.js";

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
  /** PageUp at the top of what is loaded: ask for older history of the current buffer. */
  loadOlder(): void;
  /**
   * Tab in a command's argument (a path after `/send`): the text before the cursor completed,
   * and every entry that fits when several do; undefined when the argument is not one it knows
   * (commands.ts `completeArgument`, which reads the file system).
   */
  completeArgument(before: string): { text: string; matches: string[] } | undefined;
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
  // Rows to clamp a scroll by: counted from the end, only as far as the scroll could reach.
  const total = (): number => {
    const b = currentBuffer(m);
    return lastRows(m, b, ctx.pane().cols, b.scrollRows + page() + ctx.pane().rows).length;
  };
  // A search result in focus: scrolling goes on from where it put the pane.
  const unfocus = (): void => {
    const b = currentBuffer(m);
    if (b.focus === undefined) return;
    b.scrollRows = effectiveScroll(bufferRows(m, b, ctx.pane().cols), b, ctx.pane().rows - 1);
    delete b.focus;
  };
  // Simple mode (simple.ts): F2 toggles it; the page keys scroll its feed.
  if (full === "f2") {
    toggleSimple(m);
    return true;
  }
  if (m.simple && (full === "pageup" || full === "pagedown")) {
    scrollFeed(m, full === "pageup" ? page() : -page(), ctx.pane().cols, ctx.pane().rows);
    return true;
  }
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
    case "M-i":
      togglePreviews(m);
      return true;
    case "pageup": {
      unfocus();
      const before = currentBuffer(m).scrollRows;
      scroll(m, page(), total(), ctx.pane().rows - 1);
      // Already at the top of what is loaded: older pages come from the registry.
      if (currentBuffer(m).scrollRows === before) ctx.loadOlder();
      return true;
    }
    case "pagedown":
      unfocus();
      scroll(m, -page(), total(), ctx.pane().rows - 1);
      return true;
    case "enter": {
      ctx.submit(inputSubmit(m));
      return true;
    }
    case "tab": {
      const matches = inputCompleteArgument(m, ctx.completeArgument) ?? inputComplete(m, ctx.commands);
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
    case "C-b":
      inputMove(m, "left");
      return true;
    case "C-f":
      inputMove(m, "right");
      return true;
    case "C-a":
      inputMove(m, "home");
      return true;
    case "C-e":
      inputMove(m, "end");
      return true;
    case "M-b":
    case "C-left":
      inputMove(m, "wordLeft");
      return true;
    case "M-f":
    case "C-right":
      inputMove(m, "wordRight");
      return true;
    case "C-w":
    case "M-backspace":
      inputKill(m, "wordLeft");
      return true;
    case "C-k":
      inputKill(m, "end");
      return true;
    case "C-u":
      inputKill(m, "home");
      return true;

    case "up":
      inputRecall(m, -1);
      return true;
    case "down":
      inputRecall(m, 1);
      return true;
  }
  if (isText(ch, key)) {
    inputInsert(m, ch);
    return true;
  }
  return false;
}

/** What the registry and login screens' keys start; the composition root does the I/O. */
export interface SetupKeyContext {
  model: Model;
  connect(registry: RegistryChoice): void;
  host(): void;
  /** No registry: LAN mode (`l` when none was found). */
  lanMode(): void;
  search(): void;
  /** Esc on the login screen: back to the registries found. */
  back(): void;
  login(credentials: Credentials): void;
  quit(): void;
}

function isText(ch: string | undefined, key: KeyPress): ch is string {
  return ch !== undefined && !key.ctrl && !key.meta && ch.length > 0 && !Array.from(ch).some(isControl);
}

/** Handles one key press on the registry or login screen; false if it means nothing there. */
export function handleSetupKey(ctx: SetupKeyContext, ch: string | undefined, key: KeyPress): boolean {
  const m = ctx.model;
  const full = key.full ?? "";
  if (full === "C-c") {
    ctx.quit();
    return true;
  }
  if (m.screen === "registry") {
    const v = m.registryView;
    if (v.phase === "searching" || v.phase === "hosting") return false;
    const pick = (index?: number): boolean => {
      const choice = registryPick(m, index);
      if (choice) ctx.connect(choice);
      return choice !== undefined;
    };
    if (/^[1-9]$/.test(full)) return pick(Number(full) - 1);
    switch (full) {
      case "up":
        registryMove(m, -1);
        return true;
      case "down":
        registryMove(m, 1);
        return true;
      case "enter":
        if (v.phase === "none") ctx.host();
        else pick();
        return true;
      case "h":
        if (v.phase !== "none") return false;
        ctx.host();
        return true;
      case "l":
        if (v.phase !== "none") return false;
        ctx.lanMode();
        return true;
      case "r":
        ctx.search();
        return true;
      case "q":
      case "escape":
        ctx.quit();
        return true;
    }
    return false;
  }
  if (m.screen !== "login") return false;
  if (m.login.busy) return false;
  switch (full) {
    case "enter": {
      const credentials = loginSubmit(m);
      if (credentials) ctx.login(credentials);
      return true;
    }
    case "tab":
    case "down":
      loginFocus(m, 1);
      return true;
    case "S-tab":
    case "up":
      loginFocus(m, -1);
      return true;
    case "M-r":
      loginToggleRegister(m);
      return true;
    case "backspace":
      loginErase(m);
      return true;
    case "C-u":
    case "C-w":
      loginErase(m, true);
      return true;
    case "escape":
      if (!m.login.canGoBack) return false;
      ctx.back();
      return true;
  }
  if (isText(ch, key)) {
    loginType(m, ch);
    return true;
  }
  return false;
}
