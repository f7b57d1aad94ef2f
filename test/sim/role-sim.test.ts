/**
 * The simulated LAN and virtual time of role-sim.ts, with the real socket adapter (`UdpHost`)
 * on its sockets: sessions open, messages cross, firewalls and unplugged hosts drop what they
 * should, and idle virtual minutes cost no real time.
 */

import { describe, expect, it } from "vitest";
import { UdpHost } from "../../src/net/udp-host.js";
import { SimWorld } from "./role-sim.js";

function hostOn(world: SimWorld, at: string, port = 0): UdpHost {
  return new UdpHost({
    identity: world.identity(),
    acceptIncoming: true,
    runtime: world.runtime(),
    sockets: world.socketsOn(at),
    port,
  });
}

describe("SimWorld", () => {
  it("carries a session between two UdpHosts in virtual time (seed 1)", async () => {
    const world = new SimWorld({ seed: 1 });
    const ha = world.newHost();
    const hb = world.newHost();
    const a = hostOn(world, ha);
    const b = hostOn(world, hb, 7000);
    const got: string[] = [];
    b.handlers = { onMessage: (_c, m) => got.push(new TextDecoder().decode(m)) };
    await world.wait(a.start(), 1_000);
    await world.wait(b.start(), 1_000);
    const conn = await world.wait(a.connect({ host: hb, port: 7000 }), 10_000, "connect");
    a.send(conn, new TextEncoder().encode("hello"));
    await world.until(() => got.length === 1, 5_000, "delivery");
    expect(got).toEqual(["hello"]);
    // Ten idle minutes: only keepalives cross, and the session lives on.
    const before = world.counts.delivered;
    await world.advance(600_000);
    expect(world.now).toBeGreaterThanOrEqual(600_000);
    expect(a.isLive(conn)).toBe(true);
    expect(world.counts.delivered - before).toBeGreaterThan(10);
    await world.wait(Promise.all([a.stop(), b.stop()]), 5_000);
  });

  it("drops what a firewall or an unplugged host drops, and says when a condition never holds (seed 2)", async () => {
    const world = new SimWorld({ seed: 2 });
    const ha = world.newHost();
    const hb = world.newHost();
    const a = hostOn(world, ha);
    const b = hostOn(world, hb, 7000);
    await world.wait(Promise.all([a.start(), b.start()]), 1_000);
    world.block(ha, hb);
    const connecting = a.connect({ host: hb, port: 7000 }).then(
      () => "connected",
      (e: Error) => e.message,
    );
    await expect(world.until(() => false, 2_000, "nothing")).rejects.toThrow(
      /seed 2\): nothing did not hold/,
    );
    world.unblock(ha, hb);
    world.down(hb);
    await world.advance(1_000);
    expect(world.counts.delivered).toBe(0);
    expect(world.counts.blocked).toBeGreaterThan(0);
    world.up(hb);
    expect(await world.wait(connecting, 30_000, "the handshake")).toBe("connected");
    await world.wait(Promise.all([a.stop(), b.stop()]), 5_000);
  });
});
