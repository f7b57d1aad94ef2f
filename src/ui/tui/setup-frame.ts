/**
 * The registry screen and the login screen as rows of styled text, like frame.ts does for
 * the main screen: computed from the model alone, `rows` rows of exactly `cols` columns.
 * `screenFrame` is what the renderer draws, whichever screen the model is on.
 *
 *   ┌ Hallway · <what this screen is for> ───────┐  header (inverse)
 *   │                                            │
 *   │  body: the registries found, the offer to  │
 *   │  host one, or the login form with its      │
 *   │  inline error                              │
 *   │                                            │
 *   └ keys that work here ───────────────────────┘  footer (inverse)
 */

import { DEFAULT_PORT } from "../../protocol/limits.js";
import { addressText, isNoRegistry, SEARCH_MS } from "../registry-choice.js";
import { frame, type Row, row, type Style, tooSmall } from "./frame.js";
import type { LoginView, Model, RegistryView } from "./model.js";
import { fitColumns, sanitize, stringWidth, wrap } from "./text-width.js";

const MARGIN = "  ";
const SEARCH_MS_TEXT = `${SEARCH_MS / 1000} s`;
/** Widest a text field is drawn, in columns. */
const FIELD_COLS = 32;
const LABEL_COLS = 11;

interface Body {
  title: string;
  lines: Row[];
  keys: string;
  /** Index into `lines` that must stay in view when the body is taller than the screen. */
  focus?: number;
}

function text(s: string, cols: number, style: Style = "plain"): Row[] {
  return wrap(sanitize(s), cols - MARGIN.length * 2).map((l) => row(MARGIN + l, cols, style));
}

function errorRows(e: { code: string; message: string } | undefined, cols: number): Row[] {
  return e ? [row("", cols), ...text(`! ${e.code}: ${e.message}`, cols, "error")] : [];
}

function registryBody(v: RegistryView, cols: number): Body {
  switch (v.phase) {
    case "searching":
      return {
        title: "looking for a registry",
        lines: text(`Looking for a registry on this network (mDNS, up to ${SEARCH_MS_TEXT})…`, cols),
        keys: "Ctrl+C quit",
      };
    case "hosting":
      return {
        title: "hosting a registry",
        lines: text("Starting a registry on this machine…", cols),
        keys: "Ctrl+C quit",
      };
    case "none":
      return {
        title: "no registry found",
        lines: [
          ...text(`No registry answered on this network (mDNS, ${SEARCH_MS_TEXT}).`, cols),
          row("", cols),
          ...text(
            `Host one on this machine? It listens on UDP port ${DEFAULT_PORT} and announces itself over mDNS, so the others here find it. It runs as long as this window stays open.`,
            cols,
          ),
          row("", cols),
          ...text(
            "Or chat without one (LAN mode): directly with the people on this LAN who run Hallway.",
            cols,
          ),
          ...errorRows(v.error, cols),
        ],
        keys: "Enter or h host one here · l LAN mode · r search again · Ctrl+C quit",
      };
    case "found": {
      const many = v.found.length > 1;
      const lines: Row[] = [
        ...text(many ? `${v.found.length} registries on this network:` : "A registry on this network:", cols),
        row("", cols),
      ];
      let focus = 0;
      v.found.forEach((r, i) => {
        const chosen = i === v.selected;
        if (chosen) focus = lines.length + 1;
        const mark = chosen && many ? "›" : " ";
        const head = `${MARGIN}${mark} ${String(i + 1).padStart(2)}  ${sanitize(r.name)}  ${addressText(r.address)}`;
        lines.push(row(head, cols, chosen ? "bold" : "plain"));
        lines.push(row(`${MARGIN}       key ${r.fingerprint || "?"}`, cols, chosen ? "plain" : "dim"));
      });
      lines.push(...errorRows(v.error, cols));
      return {
        title: many ? "choose a registry" : "registry found",
        lines,
        keys: many
          ? "↑↓ choose · Enter or 1–9 connect · r search again · Ctrl+C quit"
          : "Enter connect · r search again · Ctrl+C quit",
        focus,
      };
    }
  }
}

/** "[alice█      ]": the field's text (or its mask), the cursor if it has the focus. */
function field(label: string, value: string, focused: boolean, cols: number): Row {
  const room = Math.max(4, Math.min(FIELD_COLS, cols - MARGIN.length - LABEL_COLS - 3));
  const shown = stringWidth(value) > room - 1 ? takeColumnsFromEnd(value, room - 1) : value;
  const segments: Row = [
    { text: `${MARGIN}${label.padEnd(LABEL_COLS)}[`, style: focused ? "bold" : "plain" },
    { text: shown, style: "plain" },
  ];
  if (focused) segments.push({ text: " ", style: "inverse" });
  const used = stringWidth(shown) + (focused ? 1 : 0);
  segments.push({ text: `${" ".repeat(Math.max(0, room - used))}]`, style: focused ? "bold" : "plain" });
  const width = segments.reduce((n, s) => n + stringWidth(s.text), 0);
  segments.push({ text: fitColumns("", Math.max(0, cols - width)), style: "plain" });
  return width > cols ? row(segments.map((s) => s.text).join(""), cols) : segments;
}

function takeColumnsFromEnd(s: string, cols: number): string {
  const chars = Array.from(s);
  let out = "";
  for (let i = chars.length - 1; i >= 0; i--) {
    const next = (chars[i] ?? "") + out;
    if (stringWidth(next) > cols) break;
    out = next;
  }
  return out;
}

/** What the password field shows: one star per character, never the characters. */
export function maskPassword(password: string): string {
  return "*".repeat(Array.from(password).length);
}

function loginBody(l: LoginView, cols: number): Body {
  const r = l.registry;
  const where = isNoRegistry(r)
    ? r.name
    : l.hosted
      ? `${addressText(r.address)} (hosted here)`
      : r.name === addressText(r.address)
        ? r.name
        : `${sanitize(r.name)} · ${addressText(r.address)}`;
  const lines: Row[] = [
    row(`${MARGIN}${"Registry".padEnd(LABEL_COLS)}${where}`, cols),
    row(
      `${MARGIN}${"Key".padEnd(LABEL_COLS)}${r.fingerprint || "learnt and pinned when we connect"}`,
      cols,
      "dim",
    ),
    row("", cols),
    field("User name", sanitize(l.user), l.field === "user" && !l.busy, cols),
    l.passwordFromEnv
      ? row(`${MARGIN}${"Password".padEnd(LABEL_COLS)}(from HALLWAY_PASSWORD)`, cols, "dim")
      : field("Password", maskPassword(l.password), l.field === "password" && !l.busy, cols),
    row(
      `${MARGIN}${"".padEnd(LABEL_COLS)}[${l.register ? "x" : " "}] create this account (Alt+R)`,
      cols,
      l.field === "register" && !l.busy ? "bold" : "plain",
    ),
  ];
  if (l.busy) {
    lines.push(row("", cols), ...text(l.register ? "Creating the account…" : "Logging in…", cols, "system"));
  }
  if (l.note) lines.push(row("", cols), ...text(l.note, cols, "highlight"));
  lines.push(...errorRows(l.error, cols));
  const back = l.canGoBack ? " · Esc back" : "";
  return {
    title: l.register ? "create an account" : "log in",
    lines,
    keys: `Enter ${l.register ? "register" : "log in"} · Tab next field · Alt+R register${back} · Ctrl+C quit`,
  };
}

function setupFrame(body: Body, cols: number, rows: number): Row[] {
  const bodyRows = rows - 3;
  const start =
    body.focus !== undefined && body.focus >= bodyRows
      ? Math.min(body.focus + 1 - bodyRows, body.lines.length)
      : 0;
  const out: Row[] = [row(` Hallway · ${body.title}`, cols, "inverse"), row("", cols)];
  out.push(...body.lines.slice(start, start + bodyRows));
  while (out.length < rows - 1) out.push(row("", cols));
  out.push(row(` ${body.keys}`, cols, "inverse"));
  return out;
}

/** The screen the model is on, `rows` rows of exactly `cols` columns each. */
export function screenFrame(m: Model, cols: number, rows: number, now: number): Row[] {
  if (m.screen === "main") return frame(m, cols, rows, now);
  const small = tooSmall(cols, rows);
  if (small) return small;
  const body = m.screen === "registry" ? registryBody(m.registryView, cols) : loginBody(m.login, cols);
  return setupFrame(body, cols, rows);
}
