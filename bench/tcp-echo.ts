/**
 * Baseline peer for bench/chat: a plain TCP server that answers every newline-terminated
 * JSON message with a one-line receipt, the way a Hallway peer answers `chat` with
 * `receipt`. Prints its port on stdout.
 */

import { createServer } from "node:net";
import { createInterface } from "node:readline";

const server = createServer((socket) => {
  socket.setNoDelay(true);
  createInterface({ input: socket }).on("line", (line) => {
    const { msg } = JSON.parse(line) as { msg: { id: string } };
    const id = msg.id;
    socket.write(`${JSON.stringify({ t: "receipt", id, at: Date.now() })}\n`);
  });
});
server.listen(0, "127.0.0.1", () => {
  const a = server.address();
  process.stdout.write(`${typeof a === "object" && a ? a.port : 0}\n`);
});
