/** Terminal prompts for the line UI: plain questions and a masked password field. */

import { createInterface } from "node:readline";
import { Writable } from "node:stream";

export async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY });
  try {
    return await new Promise((resolve) => rl.question(question, resolve));
  } finally {
    rl.close();
  }
}

/** Read a password without echoing it. */
export async function askSecret(question: string): Promise<string> {
  let muted = false;
  const out = new Writable({
    write(chunk, _enc, done) {
      if (!muted) process.stderr.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input: process.stdin, output: out, terminal: true });
  try {
    return await new Promise((resolve) => {
      rl.question(question, (answer) => {
        process.stderr.write("\n");
        resolve(answer);
      });
      muted = true;
    });
  } finally {
    rl.close();
  }
}

/** The password from HALLWAY_PASSWORD, else a masked prompt when there is a terminal. */
export async function readPassword(question = "Password: "): Promise<string | undefined> {
  const fromEnv = process.env.HALLWAY_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  if (!process.stdin.isTTY) return undefined;
  return askSecret(question);
}
