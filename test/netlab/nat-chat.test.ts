/**
 * NAT lab, the whole product: a registry on the "internet", alice behind NAT a and bob
 * behind NAT b, real `hallway` processes. alice messages bob; the registry coordinates the
 * connect, the peers punch, and the message goes direct on the path the pair allows. Where
 * no direct path exists (a symmetric NAT facing anything but a public host), the session
 * runs through the registry's relay (taken 2 s into the attempt; `npm run bench:nat`
 * measures the connect times).
 *
 * Recorded per pair, as the lab's report: delivered, path kind, and time to connect.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assertDistFresh, CliLab, type Json } from "./fixtures/lab-cli.js";
import { requireLab } from "./lab-guard.js";
import { buildNatLab, NAT_PAIRS, type NatKind, type NatLab, startNatPeers } from "./nat-lab.js";
import { NetLab } from "./netns.js";

const lab = requireLab("chat between peers behind real Linux NAT", { commands: ["iptables"] });
const STEP_MS = 20_000;
const MESSAGES = 5;

/** Every pair, plus cone behind alice facing a public bob (the initiator behind the NAT). */
const PAIRS = [...NAT_PAIRS, { a: "cone", b: "none" } as const];

/**
 * The path alice's connect must find. alice (a) initiates: she reaches a public bob at his
 * own address (direct); a public alice reaches a NATed bob at the mapping his probes opened
 * in his NAT (punched); a symmetric NAT facing another NAT leaves only the relay.
 */
function expected(a: NatKind, b: NatKind): "direct" | "punched" | "relay" {
  if (b === "none") return "direct";
  if (a === "none" || (a === "cone" && b === "cone")) return "punched";
  return "relay";
}

describe.skipIf(!lab.canRun).each(PAIRS)(
  "chat from behind $a NAT to behind $b NAT (network lab)",
  (kinds) => {
    let net: NetLab | undefined;
    let nat: NatLab;
    const cli = new CliLab();

    beforeAll(async () => {
      assertDistFresh();
      net = await NetLab.create(`c${kinds.a[0]}${kinds.b[0]}`);
      nat = await buildNatLab(net, kinds);
    }, 60_000);

    afterAll(async () => {
      await cli.cleanup();
      await net?.teardown();
    });

    const want = expected(kinds.a, kinds.b);
    it(`delivers every message on a ${want} path`, async () => {
      const { alice, bob } = await startNatPeers(cli, nat);

      for (let i = 0; i < MESSAGES; i++) alice.send({ cmd: "send", to: "bob", text: `hello ${i}` });
      const received: Json[] = [];
      for (let i = 0; i < MESSAGES; i++) {
        received.push(
          await bob.waitFor((e) => e.event === "message" && e.text === `hello ${i}`, `message ${i}`, STEP_MS),
        );
      }
      expect(received.map((m) => m.from)).toEqual(Array(MESSAGES).fill("alice"));

      // The first path alice reports. On a machine loaded enough that the checks take longer
      // than the 2 s before the relay is taken, a pair with a direct path starts on the relay
      // and moves up once the checks answer: then the direct path must follow. How often
      // that happens is what `npm run bench:nat` measures ("direct" share).
      const first = alice.events.find((e) => e.event === "path" && e.peer === "bob");
      const path =
        want === "relay" || first?.kind === want
          ? first
          : await alice.waitFor(
              (e) => e.event === "path" && e.peer === "bob" && e.kind === want,
              want,
              STEP_MS,
            );
      expect(path).toMatchObject({ kind: want });
      // Peer to peer (through the relay or not), never stored at the registry for later.
      const via = received.map((m) => m.via);
      if (want === "relay" || first?.kind === want) {
        expect(via).toEqual(Array(MESSAGES).fill(want === "relay" ? "relay" : "direct"));
      } else {
        expect(via.every((v) => v === "relay" || v === "direct")).toBe(true);
      }
      // bob's side names the path too, once the registry vouched for alice's key. Its kind
      // is bob's view (a public alice is "direct" to him), but relayed on both sides or neither.
      await bob.waitFor(
        (e) => e.event === "path" && e.peer === "alice" && (e.kind === "relay") === (want === "relay"),
        "bob's path event",
        STEP_MS,
      );
      console.log(
        `nat lab ${kinds.a}<->${kinds.b}: delivered ${received.length}/${MESSAGES}, path ${first?.kind} in ${first?.ms} ms${
          first?.kind === path?.kind ? "" : `, then ${path?.kind}`
        }`,
      );
    }, 90_000);
  },
);
