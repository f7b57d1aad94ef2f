/**
 * Bounded offers, against a real receiving client: a peer session opened by the test itself
 * (a real UDP socket, real Noise, a real registry vouching for its key) offers what no
 * honest client would: a 4 TB file, a file larger than the free space, a name that is a
 * path. Each offer is refused at once with a stable code that both sides hear: the receiver
 * reports a failed transfer, the offering side gets `file.cancel` with the same code. The 4 TB
 * offer leaves the receiver's memory as it was (nothing is allocated for the file's size).
 */

import { randomBytes } from "node:crypto";
import { readFileSync, statfsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeControl } from "../../src/protocol/control.js";
import { encodeFileControl } from "../../src/protocol/file-control.js";
import { type Json, killAll, requireBuild, startClient, startRegistry, tempDir } from "./harness.js";
import { loggedIn, stopRawClients } from "./raw-client.js";

beforeAll(requireBuild);
afterAll(async () => {
  await stopRawClients();
  await killAll();
});

const PASSWORD = "correct horse battery staple";

/** Resident memory of a process, in bytes (Linux). */
function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

describe("bounded offers", () => {
  it("refuses a 4 TB offer, one larger than the free space and a path for a name, on both sides", async () => {
    const reg = await startRegistry(tempDir("registry"));
    const inbox = tempDir("inbox");
    const free = (() => {
      const s = statfsSync(inbox);
      return s.bavail * s.bsize;
    })();
    // The size limit above what is free, so that the free-space check is what refuses.
    const bob = startClient("bob", reg.port, tempDir("bob"), [
      "--register",
      "--accept-files",
      inbox,
      "--max-file-size",
      String(Math.max(2 ** 40, free * 2)),
    ]);
    await bob.waitFor((e) => e.event === "ready", "bob ready", 45_000);
    const mallory = await loggedIn(reg.port, "mallory", PASSWORD);
    const look = await mallory.request({ t: "lookup", user: "bob" });
    const info = look.data as { publicKey: string; addresses: Array<{ host: string; port: number }> };
    const to = info.addresses.find((a) => a.host === "127.0.0.1") ?? info.addresses[0];
    if (!to) throw new Error(`no address for bob: ${JSON.stringify(look)}`);
    const peer = await mallory.host.connect(to, {
      expectedRemoteKey: new Uint8Array(Buffer.from(info.publicKey, "hex")),
      payload: encodeControl({ t: "hello", user: "mallory" }),
    });

    const offer = (fields: Json): string => {
      const id = randomBytes(12).toString("hex");
      const stream = mallory.host.allocateStream(peer);
      mallory.host.send(
        peer,
        encodeFileControl({
          t: "file.offer",
          id,
          stream: stream ?? 1,
          name: "x.bin",
          size: 1,
          sha256: "ab".repeat(32),
          ...fields,
        } as never),
      );
      return id;
    };
    const refusedBoth = async (id: string, code: string) => {
      const atBob = await bob.waitFor(
        (e) => e.event === "transfer" && e.id === id && e.state === "failed",
        `bob refuses ${code}`,
      );
      expect(atBob).toMatchObject({ direction: "receive", code, by: "local" });
      for (let i = 0; i < 500 && !mallory.pushes.some((p) => p.t === "file.cancel" && p.id === id); i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(mallory.pushes.find((p) => p.t === "file.cancel" && p.id === id)).toMatchObject({ code });
    };

    // 4 TB: over the limit. (An empty file first: the session and bob's verification of the
    // offering key are settled before the memory is measured.)
    const warm = offer({
      name: "empty.txt",
      size: 0,
      sha256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    });
    await bob.waitFor((e) => e.event === "transfer" && e.id === warm && e.state === "done", "empty file");
    const before = rssOf(bob.child.pid as number);
    const huge = offer({ name: "huge.img", size: 4 * 10 ** 12, sha256: "cd".repeat(32) });
    await refusedBoth(huge, "FILE_TOO_LARGE");
    const after = rssOf(bob.child.pid as number);
    expect(after - before, "RSS growth").toBeLessThan(16 * 1024 * 1024);

    // Under the limit but more than the disk has free (with its margin).
    const big = offer({ name: "big.img", size: free + 1024 * 1024, sha256: "ef".repeat(32) });
    await refusedBoth(big, "FILE_NO_SPACE");

    // A name that is a path: the offer does not decode, and is refused by its id.
    const path = offer({ name: "../../etc/passwd" });
    await refusedBoth(path, "FILE_PROTOCOL_ERROR");
  }, 90_000);
});
