import { describe, expect, it } from "vitest";
import { HallwayError } from "../../../src/errors.js";
import { encodePeerTxt, parsePeerTxt, peerInstanceName } from "../../../src/protocol/mdns-txt.js";

const FP = "d57a-dd1c-ab0b-5b23-ac33-a17c-13a8-7a19";
const REG = "5938-0988-2b59-8c20-797e-2dbc-427f-b916";
const raw = (txt: Record<string, string>) => Object.entries(txt).map(([k, v]) => Buffer.from(`${k}=${v}`));

function badValue(txt: unknown): string {
  const r = parsePeerTxt(txt);
  if (r.ok) throw new Error(`expected WIRE_BAD_VALUE for ${JSON.stringify(txt)}`);
  expect(r.error.code).toBe("WIRE_BAD_VALUE");
  return r.error.detail;
}

describe("peer TXT record (_hallway-peer._udp)", () => {
  it("encodes the documented keys and round-trips through raw TXT strings", () => {
    const value = { version: 1, user: "alice", fingerprint: FP, registry: REG, presence: "away" as const };
    const txt = encodePeerTxt(value);
    expect(txt).toEqual({ v: "1", user: "alice", fp: FP, reg: REG, st: "away" });
    expect(parsePeerTxt(raw(txt))).toEqual({ ok: true, value });
    const alone = encodePeerTxt({ version: 1, user: "bob", fingerprint: FP, presence: "online" });
    expect(alone).toEqual({ v: "1", user: "bob", fp: FP, st: "online" });
    expect(parsePeerTxt(alone)).toEqual({
      ok: true,
      value: { version: 1, user: "bob", fingerprint: FP, presence: "online" },
    });
  });

  it("lower-cases the user name as the registry does, and keeps the first of a repeated key", () => {
    const r = parsePeerTxt([
      ...raw({ v: "1", user: "Alice", fp: FP, st: "online" }),
      Buffer.from("user=mallory"),
    ]);
    expect(r).toMatchObject({ ok: true, value: { user: "alice" } });
  });

  it("rejects what is missing or malformed, with a reason", () => {
    const good = { v: "1", user: "alice", fp: FP, st: "online" };
    expect(badValue({ ...good, v: "x" })).toContain("v");
    expect(badValue({ v: "1", fp: FP, st: "online" })).toContain("user");
    expect(badValue({ ...good, user: "al ice" })).toContain("spaces");
    expect(badValue({ ...good, user: "a\u0007" })).toContain("control");
    expect(badValue({ ...good, user: "x".repeat(65) })).toContain("longer");
    expect(badValue({ ...good, fp: "" })).toContain("fp");
    expect(badValue({ ...good, st: "busy" })).toContain("st");
    expect(badValue({ ...good, reg: "has space" })).toContain("reg");
    expect(badValue([Buffer.from([0xff, 0xfe, 0x3d])])).toContain("UTF-8");
    expect(badValue("v=1")).toContain("not an object");
    expect(badValue(Array.from({ length: 40 }, (_, i) => Buffer.from(`k${i}=1`)))).toContain("more than");
  });

  it("decodes 20,000 random byte strings without throwing", () => {
    let state = 7;
    const next = () => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state;
    };
    for (let i = 0; i < 20_000; i++) {
      const strings = Array.from({ length: next() % 6 }, () =>
        Buffer.from(Array.from({ length: next() % 40 }, () => next() % 256)),
      );
      const r = parsePeerTxt(strings);
      if (!r.ok) expect(r.error.code).toBe("WIRE_BAD_VALUE");
    }
  });

  it("throws INTERNAL on values the client never makes", () => {
    expect(() => encodePeerTxt({ version: 0, user: "a", fingerprint: FP, presence: "online" })).toThrow(
      HallwayError,
    );
    expect(() => encodePeerTxt({ version: 1, user: "a b", fingerprint: FP, presence: "online" })).toThrow(
      /peer record/,
    );
  });

  it("names the instance by the user and a fingerprint tag, in one label", () => {
    expect(peerInstanceName("alice", FP)).toBe("alice (d57a)");
    expect(peerInstanceName("a.b", FP)).toBe("a-b (d57a)");
    expect(Buffer.byteLength(peerInstanceName("é".repeat(64), FP))).toBeLessThanOrEqual(63);
  });
});
