/**
 * `hallway tui` (and a bare `hallway` in a terminal): the blessed terminal UI, wired from
 * what the process's composition root (`main/peer.ts`) gives it (`PresenterPorts`: the
 * runtime, clients over the data directory, a registry started here). The screen opens at
 * once; the registry screen searches mDNS (or offers to host a registry here), the login
 * screen starts a client with the view-model's reducers as its event handler, and on login
 * the main screen opens. The searches, the hosted registry and the logins happen here; the
 * screens only hold their state (setup.ts). The terminal is given back on /quit, Ctrl+C,
 * SIGTERM, SIGHUP, a client that gives up, and a crash.
 */

import { asHallwayError, HallwayError } from "../../errors.js";
import { canPreview, previewFile } from "../../media/index.js";
import type { PeerClient, PeerEvent } from "../../peer/index.js";
import type { PresenterPorts } from "../presenter-ports.js";
import {
  givenRegistry,
  type HostedRegistry,
  hostRegistry,
  isNoRegistry,
  NO_REGISTRY,
  type RegistryChoice,
  searchRegistries,
} from "../registry-choice.js";
import { COMMAND_NAMES, completeArgument, learnStatus, runInput } from "./commands.js";
import { contactsCols, conversationTextCols } from "./frame.js";
import { handleKey, handleSetupKey, type KeyContext, type KeyPress, type SetupKeyContext } from "./keys.js";
import { createModel, currentBuffer, type Model } from "./model.js";
import { desktopNotify, findNotifySend } from "./notify.js";
import {
  applyEvent,
  flushPresenceNews,
  inputPaste,
  noteDirectory,
  noteGroups,
  previewReady,
} from "./reducers.js";
import { TuiRenderer } from "./render.js";
import {
  type Credentials,
  loginDone,
  loginFailed,
  loginSubmit,
  loginType,
  registryFailed,
  registryFound,
  registryHosting,
  registrySearching,
  showLogin,
} from "./setup.js";

export interface TuiOptions {
  server?: string;
  user?: string;
  register?: boolean;
  heartbeatMs?: number;
  directTimeoutMs?: number;
  offerTimeoutMs?: number;
  pathRetryMs?: number;
  autoAcceptDir?: string;
  downloadDir?: string;
  maxTransferRate?: number;
  /** Desktop notifications through notify-send (default on; `--no-notify` turns them off). */
  notify?: boolean;
  /** Start in simple mode (simple.ts; F2 toggles it). */
  simple?: boolean;
  /** Announce this peer on the LAN (default on; `--no-announce` turns it off). */
  announce?: boolean;
}

/** Columns the contacts pane and its separator take; the conversation pane has the rest. */
function conversationPane(r: TuiRenderer, m: Model): { cols: number; rows: number } {
  if (m.simple) return { cols: r.cols, rows: Math.max(1, r.rows - 2) };
  const cols = conversationTextCols(m, r.cols - contactsCols(r.cols) - 1, r.cols);
  return { cols, rows: Math.max(1, r.rows - 2) };
}

/** How often the root looks at time-driven things: held presence lines, notifications. */
const TICK_MS = 1000;
/** Messages one PageUp past the top asks the registry for. */
const OLDER_PAGE = 50;

/**
 * Gives the terminal back however the process ends: a normal exit, or a crash (before
 * cli.ts prints its one line). Returns what undoes it on a clean leave.
 */
function restoreTerminalOnExit(r: { destroy(): void }): () => void {
  const restore = (): void => r.destroy();
  process.prependListener("uncaughtException", restore);
  process.prependListener("unhandledRejection", restore);
  process.on("exit", restore);
  return () => {
    process.off("uncaughtException", restore);
    process.off("unhandledRejection", restore);
    process.off("exit", restore);
  };
}

/**
 * Runs until /quit, Ctrl+C, SIGTERM or SIGHUP; resolves with the exit code. The screen opens
 * at once on the registry screen (or, with --server, the login screen); the chat opens on login.
 */
export async function runTui(opts: TuiOptions, ports: PresenterPorts): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new HallwayError("CLI_BAD_ARGS", "the terminal UI needs a terminal");
  }
  const model = createModel();
  model.simple = opts.simple === true;
  const { runtime } = ports;
  /** Message times, presence news and the clock line are calendar time. */
  const wall = (): number => runtime.wall();
  const r = new TuiRenderer(model, runtime, process.env.HALLWAY_TUI_FRAME_FILE || undefined);
  const unguard = restoreTerminalOnExit(r);
  const notifySend = opts.notify === false ? undefined : findNotifySend();
  const envPassword = process.env.HALLWAY_PASSWORD || undefined;

  let client: PeerClient | undefined;
  /** The client of a login in progress; events of an earlier, refused one are not shown. */
  let trying: PeerClient | undefined;
  let hosted: HostedRegistry | undefined;
  let leaving = false;

  return new Promise<number>((resolve) => {
    const quit = (code = 0): void => {
      if (leaving) return;
      leaving = true;
      ticker.cancel();
      r.destroy();
      process.off("SIGTERM", onSignal);
      process.off("SIGHUP", onSignal);
      void (async () => {
        await trying?.stop().catch(() => {});
        await client?.stop().catch(() => {});
        await hosted?.running.stop().catch(() => {});
        unguard();
        resolve(code);
      })();
    };
    const onSignal = (): void => quit(0);
    /** After every change: desktop notifications the reducers asked for, then a draw. */
    const changed = (): void => {
      for (const n of model.notifications.splice(0))
        if (notifySend) desktopNotify(notifySend, n.title, n.body);
      r.schedule();
    };
    const ticker = runtime.every(
      TICK_MS,
      () => {
        if (flushPresenceNews(model, wall())) changed();
      },
      { weak: true },
    );
    process.on("SIGTERM", onSignal);
    process.on("SIGHUP", onSignal);

    const toLogin = (registry: RegistryChoice, canGoBack: boolean): void => {
      showLogin(model, registry, {
        ...(opts.user ? { user: opts.user } : {}),
        ...(envPassword ? { envPassword } : {}),
        register: Boolean(opts.register),
        hosted: hosted !== undefined && registry === hosted,
        canGoBack,
      });
      // Name and password both given: log in straight away; the screen shows any refusal.
      if (opts.user && envPassword) {
        const credentials = loginSubmit(model);
        if (credentials) login(credentials);
      }
      r.schedule();
    };

    const search = (): void => {
      registrySearching(model);
      r.schedule();
      searchRegistries().then(
        (found) => {
          if (leaving) return;
          registryFound(model, found);
          r.schedule();
        },
        (err: unknown) => {
          registryFound(model, []);
          registryFailed(model, asHallwayError(err));
          r.schedule();
        },
      );
    };

    const host = (): void => {
      registryHosting(model);
      r.schedule();
      hostRegistry(ports.hostRegistry).then(
        (h) => {
          if (leaving) {
            void h.running.stop().catch(() => {});
            return;
          }
          hosted = h;
          toLogin(h, false);
        },
        (err: unknown) => {
          registryFailed(model, asHallwayError(err));
          r.schedule();
        },
      );
    };

    const login = (credentials: Credentials): void => {
      let c: PeerClient | undefined;
      const onEvent = (e: PeerEvent, handedOver?: () => void): void => {
        if (c === undefined || (c !== trying && c !== client)) return;
        applyEvent(model, e, wall());
        // In the model is on the screen: the local log then keeps it as history.
        handedOver?.();
        changed();
        // A received image: its preview is decoded off this thread and drawn under its line.
        if (e.event === "transfer" && e.state === "done" && canPreview(e.media) && !e.batch && e.path) {
          void previewFile(e.path, runtime).then((p) => {
            if (p && previewReady(model, e.n, p)) changed();
          });
        }
        // Friends changed: under --policy friends that is who the directory lists.
        if (e.event === "friend.accepted" || e.event === "friend.removed") {
          c.users().then(
            (u) => {
              if (u.event === "users") noteDirectory(model, u.users);
              changed();
            },
            () => {},
          );
        }
        // In a group now: who else is in it (the member list, /names) comes with the groups.
        if (e.event === "group.joined" && e.user === model.me) {
          c.social.groups().then(
            (g) => {
              if (g.event === "groups") noteGroups(model, g);
              changed();
            },
            () => {},
          );
        }
      };
      try {
        c = ports.openClient({
          ...(isNoRegistry(model.login.registry) ? {} : { server: model.login.registry.address }),
          ...credentials,
          ...(opts.heartbeatMs === undefined ? {} : { heartbeatMs: opts.heartbeatMs }),
          ...(opts.directTimeoutMs === undefined ? {} : { directTimeoutMs: opts.directTimeoutMs }),
          ...(opts.offerTimeoutMs === undefined ? {} : { offerTimeoutMs: opts.offerTimeoutMs }),
          ...(opts.pathRetryMs === undefined ? {} : { pathRetryMs: opts.pathRetryMs }),
          ...(opts.autoAcceptDir === undefined ? {} : { autoAcceptDir: opts.autoAcceptDir }),
          ...(opts.downloadDir === undefined ? {} : { downloadDir: opts.downloadDir }),
          ...(opts.maxTransferRate === undefined ? {} : { maxTransferRate: opts.maxTransferRate }),
          lan: { announce: opts.announce !== false },
          onEvent,
        });
      } catch (err) {
        loginFailed(model, asHallwayError(err));
        r.schedule();
        return;
      }
      const attempt = c;
      trying = attempt;
      attempt.start().then(
        () => {
          trying = undefined;
          if (leaving) {
            void attempt.stop().catch(() => {});
            return;
          }
          client = attempt;
          loginDone(model, credentials.user);
          openChat(attempt);
        },
        async (err: unknown) => {
          await attempt.stop().catch(() => {});
          if (trying !== attempt) return;
          trying = undefined;
          // A refused attempt's lines ("connected", errors) would only confuse the chat later.
          model.buffers[0] = { kind: "status", name: "status", lines: [], unread: 0, scrollRows: 0 };
          loginFailed(model, asHallwayError(err));
          r.schedule();
        },
      );
    };

    const openChat = (c: PeerClient): void => {
      const ctx = { model, client: c, now: wall, changed, quit: () => quit(0) };
      const report = (err: unknown): void => {
        const e = asHallwayError(err);
        applyEvent(model, { event: "error", code: e.code, message: e.message }, wall());
        changed();
      };
      mainKeys = {
        model,
        commands: COMMAND_NAMES,
        pane: () => conversationPane(r, model),
        submit: (line) => runInput(ctx, line),
        quit: () => quit(0),
        loadOlder: () => loadOlder(c, report),
        completeArgument,
        now: wall,
      };
      void c.failed.then((e) => {
        process.stderr.write(`hallway: ${e.message}\n`);
        quit(1);
      });
      r.draw();
      // LAN mode (no registry): nothing to ask it; the LAN directory fills the contacts pane.
      if (c.inLanMode) return;
      // The status line starts with the status text kept in the profile.
      learnStatus(ctx, undefined);
      // The contacts pane starts with the directory, friends, groups and their presence.
      c.users().then((e) => {
        if (e.event === "users") noteDirectory(model, e.users);
        changed();
      }, report);
      for (const ask of [() => c.social.friends(), () => c.social.groups()]) {
        ask().then((e) => {
          applyEvent(model, e, wall());
          changed();
        }, report);
      }
    };

    /** PageUp past the top of a conversation: the page before its oldest line, from the registry. */
    const loadOlder = (c: PeerClient, report: (err: unknown) => void): void => {
      const b = currentBuffer(model);
      if (b.kind === "status" || b.older !== undefined) return;
      const first = b.lines.find((l) => (b.kind === "user" ? l.id !== undefined : l.seq !== undefined));
      b.older = "loading";
      const ask =
        b.kind === "user"
          ? c.history(b.name, OLDER_PAGE, first?.id ? { sentAt: first.at, id: first.id } : undefined)
          : c.social.groupHistory(b.name, OLDER_PAGE, first?.seq);
      ask.then(
        (e) => {
          if (b.older === "loading") delete b.older;
          applyEvent(model, e, wall());
          changed();
        },
        (err: unknown) => {
          delete b.older;
          report(err);
        },
      );
    };

    let mainKeys: KeyContext | undefined;
    const setupKeys: SetupKeyContext = {
      model,
      connect: (registry) => toLogin(registry, true),
      host,
      lanMode: () => toLogin(NO_REGISTRY, true),
      search,
      back: search,
      login,
      quit: () => quit(0),
    };
    r.onPaste = (text) => {
      if (model.screen === "main") inputPaste(model, text, wall());
      else if (model.screen === "login") loginType(model, text.split(/[\r\n]/)[0] ?? "");
      r.schedule();
    };
    r.screen.on("keypress", (ch: string | undefined, key: KeyPress) => {
      if (key.full === "C-l") {
        r.redraw();
        return;
      }
      const handled =
        model.screen === "main"
          ? mainKeys !== undefined && handleKey(mainKeys, ch, key)
          : handleSetupKey(setupKeys, ch, key);
      if (handled) r.schedule();
    });

    if (opts.server) toLogin(givenRegistry(opts.server), false);
    else search();
    r.draw();
  });
}
