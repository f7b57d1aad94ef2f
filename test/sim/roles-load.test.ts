/**
 * A crowd of real peer clients logging in to the real registry at once, in the simulator
 * (office.ts): the morning after a power cut. The registry admits new sessions at its
 * handshake budget (docs/security.md: stateless cookies past 50 a second, at most 100 a
 * second), so a crowd takes seconds to get in; the clients must keep trying a registry that
 * answers with cookies instead of reporting it unreachable. Prints its seed.
 */

import { afterEach, describe, expect, it } from "vitest";
import type { Policy } from "../../src/server/social.js";
import { SimOffice, type SimPeer } from "./office.js";

let office: SimOffice | undefined;
afterEach(async () => {
  await office?.close();
  office = undefined;
});

async function crowd(
  seed: number,
  clients: number,
  policy: Policy,
): Promise<{ o: SimOffice; peers: SimPeer[] }> {
  console.log(`seed ${seed}: ${clients} clients, policy ${policy}`);
  const o = new SimOffice({ seed, faults: { loss: 0.01 } });
  office = o;
  await o.startRegistry({ policy });
  const peers: SimPeer[] = [];
  for (let i = 0; i < clients; i++) peers.push(o.peer(`user${String(i).padStart(4, "0")}`));
  const outcomes = await o.world.wait(
    Promise.all(
      peers.map((p) =>
        p.client.start().then(
          () => "ok",
          (e: { code?: string }) => e.code ?? "?",
        ),
      ),
    ),
    120_000,
    "every login",
  );
  expect(outcomes.filter((x) => x !== "ok")).toEqual([]);
  expect(peers.every((p) => p.of("ready").length === 1)).toBe(true);
  // Busy, not refused: the crowd met cookies, and nobody was turned away for it.
  expect(o.registry?.abuse).toMatchObject({ rateLimited: 0, anonymousRefused: 0, throttledLogins: 0 });
  console.log(
    `  all in after ${(o.world.now / 1000).toFixed(1)} s of virtual time; ${JSON.stringify(o.world.counts)}`,
  );
  return { o, peers };
}

describe("a crowd logging in at once, as real roles in the simulator", () => {
  it("logs 1,000 clients in: each keeps trying the busy registry until it is admitted", {
    timeout: 120_000,
  }, async () => {
    // Under the friends policy nobody's presence goes to anybody here: the login path alone
    // (handshake budget, scrypt queue, sessions), without the open office's n² presence pushes.
    const { o, peers } = await crowd(81, 1_000, "friends");
    // Admission at 100 a second: the crowd cannot all be in before 1,000 / 100 seconds.
    expect(o.world.now).toBeGreaterThan(9_000);
    expect(new Set(peers.map((p) => p.of("registry")[0]?.status))).toEqual(new Set(["connected"]));
  });

  it("in an open office, each of 150 clients logging in at once sees everyone else online", async () => {
    const { o, peers } = await crowd(82, 150, "open");
    const everyoneElse = (p: SimPeer) => {
      const online = new Set<string>();
      for (const e of p.of("presence")) {
        if (e.status === "offline") online.delete(e.user);
        else online.add(e.user);
      }
      return online.size;
    };
    // Those who logged in early hear of the later ones by push; the later ones get the
    // earlier ones' presence at login.
    const listed = await o.world.wait(
      peers[0]?.client.users() ?? Promise.reject(new Error("no peer")),
      30_000,
      "users",
    );
    const users = (listed as { users: Array<{ name: string; status: string }> }).users;
    expect(users.filter((u) => u.status === "online")).toHaveLength(peers.length);
    await o.world.until(
      () => peers.every((p) => everyoneElse(p) >= peers.length - 1),
      30_000,
      "presence to converge",
    );
  });
});
