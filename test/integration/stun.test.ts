/**
 * The registry answers STUN on its own UDP port, checked with a STUN client this project did
 * not write (the `stun` npm package): a real registry process on loopback, a client socket
 * bound to a known port, and the mapped address the registry reports for it. The NAT lab
 * checks the same through a NAT, where the mapped address is the NAT's.
 */

import dgram from "node:dgram";
import * as stun from "stun";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { killAll, requireBuild, startClient, startRegistry, tempDir } from "./harness.js";

beforeAll(() => requireBuild());
afterEach(() => killAll());

describe("STUN on the registry port", () => {
  it("gives an external STUN client its own address as XOR-MAPPED-ADDRESS", async () => {
    const { proc, port } = await startRegistry(tempDir("stun-registry"));
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    try {
      // The registry answers only requests at least as large as the answer: pad with SOFTWARE.
      const message = stun.createMessage(stun.constants.STUN_BINDING_REQUEST);
      message.addSoftware("hallway test, padded");
      const response = await stun.request(`stun://127.0.0.1:${port}`, {
        socket,
        message,
        retries: 3,
        timeout: 500,
      });
      expect(response.getXorAddress()).toMatchObject({ address: "127.0.0.1", port: socket.address().port });
    } finally {
      // The client library closes the socket it was given when the request ends.
      try {
        socket.close();
      } catch {}
    }
    // The session layer on the same port is untouched: a client still registers and logs in.
    const alice = startClient("alice", port, tempDir("stun-alice"), ["--register"]);
    await alice.waitFor((e) => e.event === "ready", "alice ready");
    expect(proc.stderr.some((l) => /error/i.test(l))).toBe(false);
  }, 20_000);
});
