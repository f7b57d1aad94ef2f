import { describe, expect, it } from "vitest";
import { HallwayError } from "../../../src/errors.js";
import type { RegistryChoice } from "../../../src/ui/registry-choice.js";
import { plainText } from "../../../src/ui/tui/frame.js";
import { handleSetupKey, type KeyPress, type SetupKeyContext } from "../../../src/ui/tui/keys.js";
import { createModel, type Model } from "../../../src/ui/tui/model.js";
import {
  type Credentials,
  loginDone,
  loginFailed,
  loginSubmit,
  registryFailed,
  registryFound,
  registryHosting,
  registrySearching,
  showLogin,
} from "../../../src/ui/tui/setup.js";
import { screenFrame } from "../../../src/ui/tui/setup-frame.js";
import { stringWidth } from "../../../src/ui/tui/text-width.js";

const T0 = new Date(2026, 10, 22, 9, 30).getTime();
const OFFICE: RegistryChoice = {
  name: "Office registry",
  address: { host: "10.1.2.3", port: 7743 },
  fingerprint: "ce96-68c9-21aa-03f1",
};
const LAB: RegistryChoice = {
  name: "Lab 実験室",
  address: { host: "10.1.9.7", port: 7744 },
  fingerprint: "0b1d-77e2-9c40-5a18",
};
const SECRET = "correct horse battery staple";

interface Did {
  connected: RegistryChoice[];
  hosted: number;
  searched: number;
  back: number;
  logins: Credentials[];
  quit: number;
  lan: number;
}

function keys(m: Model): { ctx: SetupKeyContext; did: Did } {
  const did: Did = { connected: [], hosted: 0, lan: 0, searched: 0, back: 0, logins: [], quit: 0 };
  const ctx: SetupKeyContext = {
    model: m,
    connect: (r) => did.connected.push(r),
    host: () => did.hosted++,
    lanMode: () => did.lan++,
    search: () => did.searched++,
    back: () => did.back++,
    login: (c) => did.logins.push(c),
    quit: () => did.quit++,
  };
  return { ctx, did };
}

/** Presses a key by blessed's name ("enter", "M-r", "tab"), or types text one character at a time. */
function press(ctx: SetupKeyContext, full: string): boolean {
  const key: KeyPress = { full, name: full, ctrl: full.startsWith("C-"), meta: full.startsWith("M-") };
  return handleSetupKey(ctx, full.length === 1 ? full : undefined, key);
}

function type(ctx: SetupKeyContext, text: string): void {
  for (const ch of Array.from(text)) handleSetupKey(ctx, ch, { full: ch, name: ch });
}

function screen(m: Model, cols = 80, rows = 24): string {
  const rowsOut = screenFrame(m, cols, rows, T0);
  expect(rowsOut).toHaveLength(rows);
  for (const r of rowsOut) expect(stringWidth(r.map((s) => s.text).join(""))).toBe(cols);
  return plainText(rowsOut);
}

function onRegistryScreen(found: RegistryChoice[]): Model {
  const m = createModel();
  registrySearching(m);
  registryFound(m, found);
  return m;
}

describe("registry screen", () => {
  it("searches, then shows the one registry found with its address and key; Enter connects", () => {
    const m = createModel();
    registrySearching(m);
    expect(m.screen).toBe("registry");
    expect(screen(m)).toContain("Looking for a registry on this network (mDNS");
    const { ctx, did } = keys(m);
    expect(press(ctx, "enter")).toBe(false);
    registryFound(m, [OFFICE]);
    const text = screen(m);
    expect(text).toContain("Office registry");
    expect(text).toMatch(/1 {2}Office registry {2}10\.1\.2\.3:7743\n +key ce96-68c9-21aa-03f1/);
    press(ctx, "enter");
    expect(did.connected).toEqual([OFFICE]);
  });

  it("with several, arrows move the choice and a number picks directly", () => {
    const m = onRegistryScreen([OFFICE, LAB]);
    const { ctx, did } = keys(m);
    expect(screen(m)).toMatch(/› {2}1 {2}Office registry/);
    press(ctx, "down");
    expect(m.registryView.selected).toBe(1);
    expect(screen(m, 120, 40)).toMatch(/› {2}2 {2}Lab 実験室/);
    press(ctx, "down");
    expect(m.registryView.selected).toBe(0);
    press(ctx, "up");
    press(ctx, "enter");
    press(ctx, "1");
    expect(press(ctx, "3")).toBe(false);
    expect(did.connected).toEqual([LAB, OFFICE]);
  });

  it("keeps the chosen registry in view when the list is longer than the screen", () => {
    const many = Array.from({ length: 12 }, (_, i) => ({ ...OFFICE, name: `registry ${i + 1}` }));
    const m = onRegistryScreen(many);
    const { ctx } = keys(m);
    for (let i = 0; i < 11; i++) press(ctx, "down");
    expect(screen(m)).toMatch(/› 12 {2}registry 12/);
  });

  it("when none answers it offers to host one; a failure to host shows inline and may be retried", () => {
    const m = onRegistryScreen([]);
    const { ctx, did } = keys(m);
    expect(screen(m)).toContain("Host one on this machine?");
    press(ctx, "enter");
    press(ctx, "h");
    expect(did.hosted).toBe(2);
    registryHosting(m);
    expect(screen(m)).toContain("Starting a registry on this machine");
    registryFailed(m, new HallwayError("PORT_IN_USE", "UDP port 7743 is in use"));
    expect(m.registryView.phase).toBe("none");
    expect(screen(m)).toContain("! PORT_IN_USE: UDP port 7743 is in use");
    press(ctx, "r");
    expect(did.searched).toBe(1);
  });

  it("when none answers it offers LAN mode too, and `l` means nothing when registries were found", () => {
    const m = onRegistryScreen([]);
    const { ctx, did } = keys(m);
    expect(screen(m)).toContain("Or chat without one (LAN mode)");
    expect(screen(m)).toContain("l LAN mode");
    expect(press(ctx, "l")).toBe(true);
    expect(did.lan).toBe(1);
    const found = keys(onRegistryScreen([OFFICE]));
    expect(press(found.ctx, "l")).toBe(false);
    expect(found.did.lan).toBe(0);
  });

  it("Ctrl+C quits from any screen, even while searching", () => {
    const m = createModel();
    registrySearching(m);
    const { ctx, did } = keys(m);
    press(ctx, "C-c");
    showLogin(m, OFFICE);
    press(ctx, "C-c");
    expect(did.quit).toBe(2);
  });
});

describe("login screen", () => {
  it("takes a name and a masked password, then hands them over once", () => {
    const m = createModel();
    showLogin(m, OFFICE, { canGoBack: true });
    const { ctx, did } = keys(m);
    type(ctx, "alice");
    press(ctx, "enter");
    expect(m.login.field).toBe("password");
    type(ctx, SECRET);
    for (const [cols, rows] of [
      [80, 24],
      [120, 40],
    ] as const) {
      const text = screen(m, cols, rows);
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain("horse");
      expect(text).toContain("User name  [alice");
      expect(text).toMatch(/Password {3}\[\*+ *\]/);
      expect(text).toContain("Office registry · 10.1.2.3:7743");
    }
    press(ctx, "enter");
    expect(did.logins).toEqual([{ user: "alice", password: SECRET, register: false }]);
    expect(m.login.busy).toBe(true);
    expect(screen(m)).toContain("Logging in…");
    // Keys wait while the attempt runs.
    expect(press(ctx, "enter")).toBe(false);
    expect(did.logins).toHaveLength(1);
    loginDone(m, "Alice");
    expect(m.screen).toBe("main");
    expect(m.me).toBe("alice");
    expect(m.login.password).toBe("");
  });

  it("a wrong password shows inline, is cleared, and the next try goes through", () => {
    const m = createModel();
    showLogin(m, OFFICE, { user: "alice" });
    const { ctx, did } = keys(m);
    expect(m.login.field).toBe("password");
    type(ctx, "wrong");
    press(ctx, "enter");
    loginFailed(m, new HallwayError("AUTH_BAD_PASSWORD", "wrong password"));
    expect(screen(m)).toContain("! AUTH_BAD_PASSWORD: wrong password");
    expect(m.login.password).toBe("");
    expect(m.login.field).toBe("password");
    type(ctx, SECRET);
    press(ctx, "enter");
    expect(did.logins.map((c) => c.password)).toEqual(["wrong", SECRET]);
    expect(m.login.error).toBeUndefined();
  });

  it("an unknown name turns on register, so Enter creates the account; Alt+R toggles it", () => {
    const m = createModel();
    showLogin(m, OFFICE, { user: "carol" });
    const { ctx, did } = keys(m);
    type(ctx, SECRET);
    press(ctx, "enter");
    loginFailed(m, new HallwayError("AUTH_UNKNOWN_USER", "no user by that name"));
    const text = screen(m);
    expect(text).toContain('no account "carol" on this registry yet: Enter creates it');
    expect(text).toContain("[x] create this account");
    expect(text).toContain("Hallway · create an account");
    press(ctx, "enter");
    expect(did.logins.at(-1)).toEqual({ user: "carol", password: SECRET, register: true });
    loginFailed(m, new HallwayError("AUTH_USER_EXISTS", "that name is taken"));
    expect(m.login.register).toBe(false);
    press(ctx, "M-r");
    expect(m.login.register).toBe(true);
  });

  it("says what is missing instead of sending an empty name or password", () => {
    const m = createModel();
    showLogin(m, OFFICE);
    const { ctx, did } = keys(m);
    press(ctx, "enter");
    expect(screen(m)).toContain("! AUTH_BAD_USERNAME: type a user name");
    type(ctx, "bob");
    press(ctx, "tab");
    press(ctx, "enter");
    expect(screen(m)).toContain("! AUTH_NO_PASSWORD: type the password");
    expect(did.logins).toEqual([]);
  });

  it("edits fields with Backspace and Ctrl+U, Tab cycles them, Space toggles register", () => {
    const m = createModel();
    showLogin(m, OFFICE);
    const { ctx } = keys(m);
    type(ctx, "alicex");
    press(ctx, "backspace");
    expect(m.login.user).toBe("alice");
    press(ctx, "tab");
    type(ctx, "pw");
    press(ctx, "C-u");
    expect(m.login.password).toBe("");
    press(ctx, "tab");
    expect(m.login.field).toBe("register");
    type(ctx, " ");
    expect(m.login.register).toBe(true);
    press(ctx, "tab");
    expect(m.login.field).toBe("user");
    press(ctx, "S-tab");
    expect(m.login.field).toBe("register");
  });

  it("with HALLWAY_PASSWORD there is no password field; a refusal asks for one", () => {
    const m = createModel();
    showLogin(m, OFFICE, { user: "alice", envPassword: SECRET });
    expect(screen(m)).toContain("(from HALLWAY_PASSWORD)");
    expect(loginSubmit(m)).toEqual({ user: "alice", password: SECRET, register: false });
    loginFailed(m, new HallwayError("AUTH_BAD_PASSWORD", "wrong password"));
    expect(m.login.passwordFromEnv).toBe(false);
    expect(screen(m)).toMatch(/Password {3}\[ *\]/);
  });

  it("a registry given with --server has no key yet; a hosted one says so; Esc goes back only after the registry screen", () => {
    const m = createModel();
    showLogin(m, { name: "10.1.2.3:7743", address: OFFICE.address, fingerprint: "" });
    expect(screen(m)).toContain("Key        learnt and pinned when we connect");
    const { ctx, did } = keys(m);
    expect(press(ctx, "escape")).toBe(false);
    showLogin(m, { ...OFFICE, name: "this machine" }, { hosted: true, canGoBack: true });
    expect(screen(m)).toContain("10.1.2.3:7743 (hosted here)");
    press(ctx, "escape");
    expect(did.back).toBe(1);
  });
});
