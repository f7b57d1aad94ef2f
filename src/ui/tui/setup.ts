/**
 * Reducers of the two screens before the chat: the registry screen and the login screen.
 * Like reducers.ts they change the model in place and touch no terminal, no socket and no
 * clock; the composition root (index.ts) runs the searches and logins they stand for and
 * feeds the outcome back in.
 *
 *   registry: searching ──found──► found ──pick──► login ──ok──► main
 *                 │                  ▲  │            ▲ │
 *                 └──none──► none ───┘  └─(r)───────┐│ └─error─► login (inline error, retry)
 *                              │ host                ││
 *                              ▼                     ││ Esc
 *                           hosting ──────────► login┘└──► registry
 *
 * `--server` skips the registry screen; HALLWAY_PASSWORD skips the password field.
 */

import type { HallwayError } from "../../errors.js";
import type { RegistryChoice } from "../registry-choice.js";
import type { LoginField, Model } from "./model.js";

const FIELDS: readonly LoginField[] = ["user", "password", "register"];

export function registrySearching(m: Model): void {
  m.screen = "registry";
  m.registryView = { phase: "searching", found: [], selected: 0 };
}

export function registryFound(m: Model, found: readonly RegistryChoice[]): void {
  m.registryView = { phase: found.length > 0 ? "found" : "none", found: [...found], selected: 0 };
}

export function registryHosting(m: Model): void {
  m.registryView = { ...m.registryView, phase: "hosting" };
  delete m.registryView.error;
}

/** Searching or hosting failed: the error shows on the screen, which offers to try again. */
export function registryFailed(m: Model, e: HallwayError): void {
  const v = m.registryView;
  m.registryView = {
    ...v,
    phase: v.found.length > 0 ? "found" : "none",
    error: { code: e.code, message: e.message },
  };
}

export function registryMove(m: Model, delta: number): void {
  const v = m.registryView;
  if (v.phase !== "found") return;
  v.selected = (v.selected + delta + v.found.length) % v.found.length;
}

/** The registry at `index` (default: the selected one), or undefined if there is none. */
export function registryPick(m: Model, index = m.registryView.selected): RegistryChoice | undefined {
  const v = m.registryView;
  if (v.phase !== "found") return undefined;
  const choice = v.found[index];
  if (choice) v.selected = index;
  return choice;
}

export interface LoginStart {
  user?: string;
  register?: boolean;
  /** HALLWAY_PASSWORD, if set: the password field is skipped. */
  envPassword?: string;
  hosted?: boolean;
  canGoBack?: boolean;
}

export function showLogin(m: Model, registry: RegistryChoice, start: LoginStart = {}): void {
  const password = start.envPassword ?? "";
  const user = start.user ?? "";
  m.screen = "login";
  m.login = {
    registry,
    hosted: Boolean(start.hosted),
    canGoBack: Boolean(start.canGoBack),
    user,
    password,
    passwordFromEnv: password !== "",
    register: Boolean(start.register),
    field: user === "" ? "user" : "password",
    busy: false,
  };
}

/** A typed character goes into the user name or the password, whichever has the focus. */
export function loginType(m: Model, text: string): void {
  const l = m.login;
  if (l.busy) return;
  if (l.field === "user") l.user += text.replace(/\s/g, "");
  else if (l.field === "password") l.password += text;
  else if (text === " ") l.register = !l.register;
}

export function loginErase(m: Model, all = false): void {
  const l = m.login;
  if (l.busy) return;
  const cut = (s: string): string => (all ? "" : Array.from(s).slice(0, -1).join(""));
  if (l.field === "user") l.user = cut(l.user);
  else if (l.field === "password") l.password = cut(l.password);
}

/** Moves the focus over the fields shown (the password field is not while it comes from the environment). */
export function loginFocus(m: Model, delta: number): void {
  const l = m.login;
  const shown = FIELDS.filter((f) => f !== "password" || !l.passwordFromEnv);
  const i = Math.max(0, shown.indexOf(l.field));
  l.field = shown[(i + delta + shown.length) % shown.length] ?? "user";
}

export function loginToggleRegister(m: Model): void {
  if (m.login.busy) return;
  m.login.register = !m.login.register;
  delete m.login.note;
}

export interface Credentials {
  user: string;
  password: string;
  register: boolean;
}

/**
 * Enter: on the user name with no password yet it moves on to the password; otherwise it
 * returns what to log in with (and marks the screen busy), or shows what is missing.
 */
export function loginSubmit(m: Model): Credentials | undefined {
  const l = m.login;
  if (l.busy) return undefined;
  if (l.field === "user" && l.password === "" && l.user !== "") {
    l.field = "password";
    return undefined;
  }
  if (l.user === "") {
    l.error = { code: "AUTH_BAD_USERNAME", message: "type a user name" };
    l.field = "user";
    return undefined;
  }
  if (l.password === "") {
    l.error = { code: "AUTH_NO_PASSWORD", message: "type the password" };
    l.field = "password";
    return undefined;
  }
  l.busy = true;
  delete l.error;
  delete l.note;
  return { user: l.user, password: l.password, register: l.register };
}

/**
 * A refused login shows inline and the screen takes a new try. An unknown name turns on
 * "register" so that Enter creates the account; a wrong password is cleared.
 */
export function loginFailed(m: Model, e: HallwayError): void {
  const l = m.login;
  l.busy = false;
  delete l.note;
  l.error = { code: e.code, message: e.message };
  switch (e.code) {
    case "AUTH_UNKNOWN_USER":
      delete l.error;
      l.register = true;
      l.note = `no account "${l.user}" on this registry yet: Enter creates it (Alt+R to go back)`;
      l.field = l.passwordFromEnv ? "register" : "password";
      break;
    case "AUTH_USER_EXISTS":
      l.register = false;
      l.field = "password";
      break;
    case "AUTH_BAD_PASSWORD":
    case "AUTH_WEAK_PASSWORD":
      l.password = "";
      l.passwordFromEnv = false;
      l.field = "password";
      break;
    case "AUTH_BAD_USERNAME":
      l.field = "user";
      break;
  }
}

/** Logged in: the chat opens, and the password is forgotten. */
export function loginDone(m: Model, user: string): void {
  m.login.password = "";
  m.login.busy = false;
  m.me = user.toLowerCase();
  m.screen = "main";
}
