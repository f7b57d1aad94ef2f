/**
 * Terminal input for the line UI: one readline interface for the whole session, shared by
 * plain questions, the masked password field and the chat prompt.
 *
 * Why one. readline reads stdin in chunks and splits them into lines itself; an interface
 * closed after each question throws away whatever followed the answer in the same chunk
 * (a pasted block, a quick typist), and each new interface toggles raw mode again. So
 * lines that arrive while nobody asks are queued for the next question or the chat loop.
 *
 * Echo. readline echoes what it reads through `gate`, which drops it while
 *   - a secret is being read, or
 *   - nobody is asking (between questions, while the registry is found or started):
 *     typed-ahead text may be the password for a prompt that is not out yet.
 * A queued line is shown when its question is (a secret one stays hidden), and every
 * secret is taken out of the history so that "up" at the chat prompt cannot bring it back.
 *
 * Output written through `print` lands above the prompt: the prompt and the half-typed
 * line are cleared, the text is written, and they are drawn again (a secret is not).
 *
 * Status. On a terminal, `status(text)` keeps one line just above the chat prompt that is
 * rewritten in place (transfer progress), so progress never scrolls the conversation away;
 * printed lines go above it. Without a terminal it shows nothing.
 */

import {
  type Completer,
  clearLine,
  clearScreenDown,
  createInterface,
  cursorTo,
  type Interface,
  moveCursor,
} from "node:readline";
import { Writable } from "node:stream";

/** What the user sees at the bottom: nothing to answer, a question, a secret, the chat prompt. */
type Showing = "none" | "question" | "secret" | "prompt";

export class LineInput {
  private readonly rl: Interface;
  private readonly output: NodeJS.WritableStream;
  private readonly terminal: boolean;
  private readonly queued: string[] = [];
  private pending: ((line: string | undefined) => void) | undefined;
  private lineHandler: ((line: string) => void) | undefined;
  private showing: Showing = "none";
  private promptText = "";
  private closed = false;
  private readonly closeHandlers: Array<() => void> = [];
  /** The status line's text, and whether it is on screen above the prompt. */
  private statusText = "";
  private statusShown = false;

  constructor(
    input: NodeJS.ReadableStream & { isTTY?: boolean } = process.stdin,
    output: NodeJS.WritableStream = process.stdout,
    completer?: Completer,
  ) {
    this.output = output;
    this.terminal = input.isTTY === true;
    const gate = new Writable({
      write: (chunk, _enc, done) => {
        if (!this.muted) output.write(chunk);
        done();
      },
    });
    // readline lays out long lines by the terminal's width.
    Object.defineProperty(gate, "columns", { get: () => (output as { columns?: number }).columns });
    output.on("resize", () => gate.emit("resize"));
    this.rl = createInterface({
      input,
      output: gate,
      terminal: this.terminal,
      historySize: 100,
      ...(completer === undefined ? {} : { completer }),
    });
    this.rl.on("line", (line) => this.onLine(line));
    this.rl.on("close", () => {
      this.closed = true;
      // Leave the cursor on a fresh line, not after a prompt nobody will answer.
      if (this.showing !== "none") output.write("\n");
      this.showing = "none";
      const waiting = this.pending;
      this.pending = undefined;
      waiting?.(undefined);
      for (const h of this.closeHandlers.splice(0)) h();
    });
  }

  private get muted(): boolean {
    return !this.closed && (this.showing === "secret" || (this.showing === "none" && !this.lineHandler));
  }

  private onLine(line: string): void {
    const waiting = this.pending;
    if (waiting) {
      this.pending = undefined;
      waiting(line);
    } else if (this.lineHandler) {
      // readline has moved to a fresh line; the handler draws the prompt again (with the
      // status line above it). The status line above the submitted one would stay behind in
      // the scrollback: the submitted line is written over it instead.
      if (this.terminal && this.statusShown && this.showing === "prompt") {
        const cols = (this.output as { columns?: number }).columns ?? 80;
        const rows = Math.max(1, Math.ceil((this.promptText.length + line.length + 1) / Math.max(1, cols)));
        moveCursor(this.output, 0, -(rows + 1));
        cursorTo(this.output, 0);
        clearScreenDown(this.output);
        this.output.write(`${this.promptText}${line}\n`);
      }
      this.showing = "none";
      this.statusShown = false;
      this.lineHandler(line);
    } else {
      this.queued.push(line);
    }
  }

  private forget(line: string): void {
    const history = (this.rl as unknown as { history?: string[] }).history;
    if (history?.[0] === line) history.shift();
  }

  /** One answer line; undefined when input ended (Ctrl-D, Ctrl-C, end of a pipe). */
  ask(question: string): Promise<string | undefined> {
    return this.read(question, false);
  }

  /** Like `ask`, but nothing typed is shown and the answer is kept out of the history. */
  askSecret(question: string): Promise<string | undefined> {
    return this.read(question, true);
  }

  private read(question: string, secret: boolean): Promise<string | undefined> {
    if (this.pending) return Promise.reject(new Error("LineInput: one question at a time"));
    // Lines piped in before their question still answer it, even once the input has ended.
    const typedAhead = this.queued.shift();
    if (typedAhead === undefined && this.closed) return Promise.resolve(undefined);
    if (typedAhead !== undefined) {
      this.output.write(`${question}${secret ? "" : typedAhead}\n`);
      if (secret) this.forget(typedAhead);
      return Promise.resolve(typedAhead);
    }
    this.promptText = question;
    this.showing = secret ? "secret" : "question";
    this.rl.setPrompt(question);
    // A secret's prompt goes out by itself: readline would redraw what was typed ahead.
    if (secret) this.output.write(question);
    else this.rl.prompt(true);
    return new Promise((resolve) => {
      this.pending = (line) => {
        this.showing = "none";
        if (line === undefined) return resolve(undefined);
        if (secret) {
          // readline's own newline went into the gate with the rest of the echo.
          this.output.write("\n");
          this.forget(line);
        }
        resolve(line);
      };
    });
  }

  /** Show `prompt` and hand every line (queued ones first) to `handler` until close. */
  startPrompt(prompt: string, handler: (line: string) => void): void {
    this.promptText = prompt;
    this.lineHandler = handler;
    this.rl.setPrompt(prompt);
    for (const line of this.queued.splice(0)) if (!this.closed) handler(line);
    this.prompt();
  }

  /** Draws the chat prompt again (after a command's output), the status line above it. */
  prompt(): void {
    if (this.closed || !this.lineHandler) return;
    // Without a terminal (a pipe, a file) the chat prompt would only glue itself to the
    // next line of output.
    if (!this.terminal) {
      this.showing = "prompt";
      return;
    }
    if (this.showing !== "prompt" && !this.statusShown && this.statusText !== "" && this.terminal) {
      this.output.write(`${this.statusText}\n`);
      this.statusShown = true;
    }
    this.showing = "prompt";
    this.rl.prompt(true);
  }

  /** Writes lines above whatever prompt is showing, then redraws it. */
  print(text: string): void {
    if (this.closed || this.showing === "none" || !this.terminal) {
      this.output.write(`${text}\n`);
      return;
    }
    this.clearPromptArea();
    this.output.write(`${text}\n`);
    this.redrawPromptArea();
  }

  /**
   * Sets the line kept above the chat prompt ("" removes it). Rewritten in place on a
   * terminal; ignored otherwise.
   */
  status(text: string): void {
    const line = text.replace(/[\r\n]/g, " ");
    if (line === this.statusText) return;
    this.statusText = line;
    if (this.closed || !this.terminal || this.showing !== "prompt") return;
    this.clearPromptArea();
    this.redrawPromptArea();
  }

  /** Clears the prompt line and the status line above it; the cursor ends where they began. */
  private clearPromptArea(): void {
    clearLine(this.output, 0);
    cursorTo(this.output, 0);
    if (this.statusShown) {
      moveCursor(this.output, 0, -1);
      clearLine(this.output, 0);
      this.statusShown = false;
    }
  }

  private redrawPromptArea(): void {
    if (this.showing === "prompt" && this.statusText !== "") {
      this.output.write(`${this.statusText}\n`);
      this.statusShown = true;
    }
    if (this.showing === "secret") this.output.write(this.promptText);
    else this.rl.prompt(true);
  }

  onClose(handler: () => void): void {
    if (this.closed) handler();
    else this.closeHandlers.push(handler);
  }

  /** Restores the terminal and stops reading. Idempotent. */
  close(): void {
    if (!this.closed) this.rl.close();
  }
}

/** The password from HALLWAY_PASSWORD, else a masked prompt (on stderr) when there is a terminal. */
export async function readPassword(question = "Password: "): Promise<string | undefined> {
  const fromEnv = process.env.HALLWAY_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  if (!process.stdin.isTTY) return undefined;
  // stdout carries JSON events in --json mode, so the prompt goes to stderr.
  const input = new LineInput(process.stdin, process.stderr);
  try {
    return await input.askSecret(question);
  } finally {
    input.close();
  }
}
