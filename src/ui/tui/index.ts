/**
 * `hallway tui`: the blessed terminal UI. This is its composition root: it finds the
 * registry, asks for the user name and password on the plain terminal (the login screen is
 * not built yet), starts the client with the view-model's reducers as its event handler,
 * then opens the main screen. The terminal is given back on /quit, Ctrl+C, SIGTERM, a
 * client that gives up, and a crash.
 */

import { asHallwayError, HallwayError } from "../../errors.js";
import { defaultDataDir } from "../../net/data-dir.js";
import { createClient, findRegistry, type PeerClient, type PeerEvent } from "../../peer/index.js";
import { LineInput, readPassword } from "../prompt.js";
import { COMMAND_NAMES, runInput } from "./commands.js";
import { contactsCols } from "./frame.js";
import { handleKey } from "./keys.js";
import { createModel } from "./model.js";
import { applyEvent } from "./reducers.js";
import { TuiRenderer } from "./render.js";

export interface TuiOptions {
  server?: string;
  user?: string;
  register?: boolean;
  dataDir?: string;
  heartbeatMs?: number;
  directTimeoutMs?: number;
  offerTimeoutMs?: number;
  autoAcceptDir?: string;
}

/** Columns the contacts pane and its separator take; the conversation pane has the rest. */
function conversationPane(r: TuiRenderer): { cols: number; rows: number } {
  return { cols: r.cols - contactsCols(r.cols) - 1, rows: Math.max(1, r.rows - 2) };
}

async function askUser(given: string | undefined): Promise<string | undefined> {
  if (given) return given;
  const term = new LineInput();
  try {
    return (await term.ask("User name: "))?.trim();
  } finally {
    term.close();
  }
}

/** Runs until /quit, Ctrl+C, SIGTERM or SIGHUP; resolves with the exit code. */
export async function runTui(opts: TuiOptions): Promise<number> {
  if (!process.stdout.isTTY) throw new HallwayError("CLI_BAD_ARGS", "the terminal UI needs a terminal");
  const server = await findRegistry(opts.server);
  const user = await askUser(opts.user);
  if (!user) return 1;
  const password = await readPassword();
  if (password === undefined) {
    throw new HallwayError("AUTH_NO_PASSWORD", "set HALLWAY_PASSWORD or run in a terminal");
  }
  const model = createModel(user.toLowerCase());
  let renderer: TuiRenderer | undefined;
  const onEvent = (e: PeerEvent): void => {
    applyEvent(model, e, Date.now());
    renderer?.schedule();
  };
  const client: PeerClient = createClient({
    dataDir: opts.dataDir ?? defaultDataDir("client"),
    server,
    user,
    password,
    register: Boolean(opts.register),
    ...(opts.heartbeatMs === undefined ? {} : { heartbeatMs: opts.heartbeatMs }),
    ...(opts.directTimeoutMs === undefined ? {} : { directTimeoutMs: opts.directTimeoutMs }),
    ...(opts.offerTimeoutMs === undefined ? {} : { offerTimeoutMs: opts.offerTimeoutMs }),
    ...(opts.autoAcceptDir === undefined ? {} : { autoAcceptDir: opts.autoAcceptDir }),
    onEvent,
  });
  try {
    await client.start();
  } catch (err) {
    await client.stop().catch(() => {});
    throw err;
  }

  const r = new TuiRenderer(model);
  renderer = r;
  // A crash gives the terminal back before cli.ts prints its one line.
  const restore = (): void => r.destroy();
  process.prependListener("uncaughtException", restore);
  process.prependListener("unhandledRejection", restore);
  process.on("exit", restore);

  return new Promise<number>((resolve) => {
    let leaving = false;
    const quit = (code = 0): void => {
      if (leaving) return;
      leaving = true;
      r.destroy();
      process.off("SIGTERM", onSignal);
      process.off("SIGHUP", onSignal);
      void client
        .stop()
        .catch(() => {})
        .then(() => {
          process.off("uncaughtException", restore);
          process.off("unhandledRejection", restore);
          process.off("exit", restore);
          resolve(code);
        });
    };
    const onSignal = (): void => quit(0);
    process.on("SIGTERM", onSignal);
    process.on("SIGHUP", onSignal);
    const ctx = {
      model,
      client,
      now: Date.now,
      changed: () => r.schedule(),
      quit: () => quit(0),
    };
    r.screen.on(
      "keypress",
      (ch: string | undefined, key: { full?: string; name?: string; ctrl?: boolean; meta?: boolean }) => {
        const handled = handleKey(
          {
            model,
            commands: COMMAND_NAMES,
            pane: () => conversationPane(r),
            submit: (line) => runInput(ctx, line),
            quit: () => quit(0),
            now: Date.now,
          },
          ch,
          key,
        );
        if (handled) r.schedule();
      },
    );
    void client.failed.then((e) => {
      process.stderr.write(`hallway: ${e.message}\n`);
      quit(1);
    });
    r.draw();
    // The contacts pane starts with friends, groups and their presence.
    for (const ask of [() => client.social.friends(), () => client.social.groups()]) {
      ask().then(
        (e) => {
          applyEvent(model, e, Date.now());
          r.schedule();
        },
        (err: unknown) => {
          const e = asHallwayError(err);
          applyEvent(model, { event: "error", code: e.code, message: e.message }, Date.now());
          r.schedule();
        },
      );
    }
  });
}
