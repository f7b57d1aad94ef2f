/**
 * No reflection, no amplification (docs/security.md), with a real registry and a real peer
 * on loopback. Every byte counted here is a datagram on a real socket; nothing is sent off
 * loopback (the public addresses named below are refused by the registry, so nobody probes
 * them, and the test checks exactly that before any real peer runs).
 */

import dgram from "node:dgram";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  decodeStun,
  encodeStun,
  STUN_ATTR,
  STUN_BINDING_ERROR,
  STUN_BINDING_REQUEST,
  STUN_BINDING_SUCCESS,
} from "../../src/protocol/stun.js";
import { type Json, killAll, requireBuild, startClient, startRegistry, tempDir } from "./harness.js";
import { loggedIn, stopRawClients } from "./raw-client.js";

const PASSWORD = "correct horse battery staple";
const TEST_MS = 120_000;

beforeAll(() => requireBuild());
const sockets: dgram.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  await stopRawClients();
  await killAll();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function bound(host = "127.0.0.1", port = 0): Promise<dgram.Socket> {
  const s = dgram.createSocket("udp4");
  s.on("error", () => {});
  await new Promise<void>((resolve) => s.bind(port, host, resolve));
  sockets.push(s);
  return s;
}

describe("STUN", () => {
  it(
    "answers only requests at least as large as the answer, never with SOFTWARE",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      const s = await bound();
      const answers: Buffer[] = [];
      s.on("message", (m) => answers.push(m));
      const tid = (i: number) => new Uint8Array(12).fill(i);
      const requests: Array<{ what: string; bytes: Uint8Array; answered: boolean }> = [
        { what: "bare, 20 bytes", bytes: encodeStun(STUN_BINDING_REQUEST, tid(1), []), answered: false },
        {
          what: "FINGERPRINT, 28 bytes",
          bytes: encodeStun(STUN_BINDING_REQUEST, tid(2), [], { fingerprint: true }),
          answered: false,
        },
        {
          what: "an unknown comprehension-required attribute, 24 bytes",
          bytes: encodeStun(STUN_BINDING_REQUEST, tid(3), [{ type: 0x0024, value: new Uint8Array(0) }]),
          answered: false,
        },
        {
          what: "padded with SOFTWARE, 44 bytes",
          bytes: encodeStun(STUN_BINDING_REQUEST, tid(4), [
            { type: STUN_ATTR.SOFTWARE, value: new TextEncoder().encode("padding to 44 bytes!") },
          ]),
          answered: true,
        },
        {
          what: "padded, with an unknown attribute: a 420 that fits",
          bytes: encodeStun(
            STUN_BINDING_REQUEST,
            tid(5),
            [
              { type: 0x0024, value: new Uint8Array(4) },
              { type: STUN_ATTR.PADDING, value: new Uint8Array(40) },
            ],
            { fingerprint: true },
          ),
          answered: true,
        },
      ];
      for (const r of requests) {
        s.send(r.bytes, reg.port, "127.0.0.1");
        await sleep(300);
      }
      await sleep(500);
      const sent = requests.reduce((n, r) => n + r.bytes.length, 0);
      const received = answers.reduce((n, a) => n + a.length, 0);
      console.log(`STUN: ${received} bytes answered to ${sent} bytes of requests`);
      expect(received).toBeLessThanOrEqual(sent);
      expect(answers).toHaveLength(requests.filter((r) => r.answered).length);
      for (const a of answers) {
        const msg = decodeStun(new Uint8Array(a));
        expect(msg.ok).toBe(true);
        if (!msg.ok) continue;
        const request = requests.find((r) =>
          Buffer.from(r.bytes.subarray(8, 20)).equals(Buffer.from(msg.value.transactionId)),
        );
        expect(request?.answered).toBe(true);
        expect(a.length).toBeLessThanOrEqual(request?.bytes.length ?? 0);
        expect(msg.value.attributes.some((x) => x.type === STUN_ATTR.SOFTWARE)).toBe(false);
        expect([STUN_BINDING_SUCCESS, STUN_BINDING_ERROR]).toContain(msg.value.type);
      }
    },
    TEST_MS,
  );
});

/**
 * A UDP proxy in front of the registry that counts what the attacker sends: the attacker
 * talks to it, and the registry sees the proxy's upstream socket as the attacker's address.
 */
async function countingProxy(registryPort: number): Promise<{ port: number; sent: () => number }> {
  const front = await bound();
  const upstream = await bound();
  let client: { address: string; port: number } | undefined;
  let bytes = 0;
  front.on("message", (m, r) => {
    client = { address: r.address, port: r.port };
    bytes += m.length;
    upstream.send(m, registryPort, "127.0.0.1");
  });
  upstream.on("message", (m) => {
    if (client) front.send(m, client.port, client.address);
  });
  return { port: front.address().port, sent: () => bytes };
}

describe("no reflection through punching", () => {
  it(
    "the registry refuses candidates it cannot tie to the client, and a peer's probes toward the rest stay within what the requester sent",
    async () => {
      const reg = await startRegistry(tempDir("registry"));
      // Eight victims on loopback addresses the attacker does not own.
      const victims = await Promise.all(Array.from({ length: 8 }, (_, i) => bound(`127.0.0.${i + 2}`)));
      let victimBytes = 0;
      for (const v of victims) v.on("message", (m) => (victimBytes += m.length));
      const claimed = [
        ...victims.map((v) => ({ host: v.address().address, port: v.address().port })),
        // Public addresses, never seen from the attacker: refused, so never probed.
        ...Array.from({ length: 8 }, (_, i) => ({ host: `203.0.113.${i + 1}`, port: 9 })),
      ];

      // First with a raw target that only records what the registry tells it.
      const observer = await loggedIn(reg.port, "observer", PASSWORD);
      const attacker = await loggedIn(reg.port, "mallory", PASSWORD, { addresses: claimed });
      const answer = await attacker.request({ t: "connect", to: "observer", relay: false });
      expect(answer.t).toBe("ok");
      for (let i = 0; i < 100 && !observer.pushes.some((p) => p.t === "punch"); i++) await sleep(20);
      const punch = observer.pushes.find((p) => p.t === "punch") as Json;
      const hosts = (punch.candidates as Json[]).map((c) => (c.address as Json).host);
      expect(hosts.filter((h) => String(h).startsWith("203.0.113."))).toEqual([]);
      expect(hosts.filter((h) => /^127\.0\.0\.[2-9]$/.test(String(h)))).toHaveLength(8);
      expect(punch.probeBudget as number).toBeGreaterThan(0);
      expect(reg.proc.stderr.some((l) => /mallory: refused host candidates .*203\.0\.113\.1:9/.test(l))).toBe(
        true,
      );
      await attacker.stop();

      // Now a real peer that probes, and an attacker whose every byte is counted.
      const bob = startClient("bob", reg.port, tempDir("bob"), ["--register"]);
      await bob.waitFor((e) => e.event === "ready", "bob ready");
      const proxy = await countingProxy(reg.port);
      const mallory = await loggedIn(proxy.port, "mallory", PASSWORD, {
        register: false,
        addresses: claimed,
      });
      const before = proxy.sent();
      victimBytes = 0;
      for (let i = 0; i < 20; i++) {
        const a = await mallory.request({ t: "connect", to: "bob" });
        expect(a.t).toBe("ok");
      }
      // The probes of twenty attempts run their course (5 s each).
      await sleep(6000);
      const requesterBytes = proxy.sent() - before;
      console.log(
        `reflection: 20 connects, ${requesterBytes} bytes from the requester, ${victimBytes} bytes to the 8 claimed addresses (×${(victimBytes / requesterBytes).toFixed(2)})`,
      );
      expect(victimBytes).toBeGreaterThan(0); // the peer did probe them: the cap is what holds
      expect(victimBytes).toBeLessThanOrEqual(requesterBytes);
    },
    TEST_MS,
  );
});
