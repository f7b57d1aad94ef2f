import { describe, expect, it } from "vitest";
import { HallwayError } from "../../../src/errors.js";
import {
  encodeRegistryTxt,
  fingerprintTag,
  MAX_INSTANCE_NAME_BYTES,
  parseRegistryTxt,
  registryInstanceName,
} from "../../../src/protocol/mdns-txt.js";

const FP = "SHA256:AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg";
const bytes = (s: string): Buffer => Buffer.from(s, "utf8");

function badValue(txt: unknown): string {
  const r = parseRegistryTxt(txt);
  if (r.ok) throw new Error(`expected WIRE_BAD_VALUE for ${JSON.stringify(txt)}`);
  expect(r.error.code).toBe("WIRE_BAD_VALUE");
  return r.error.detail;
}

describe("registry TXT record", () => {
  it("encodes version, fingerprint and name as bonjour-service wants them", () => {
    expect(encodeRegistryTxt({ version: 1, fingerprint: FP, name: "Office" })).toEqual({
      v: "1",
      fp: FP,
      name: "Office",
    });
    expect(encodeRegistryTxt({ version: 1, fingerprint: FP })).toEqual({ v: "1", fp: FP });
  });

  it("round-trips through the decoded object and through raw TXT strings", () => {
    const txt = encodeRegistryTxt({ version: 1, fingerprint: FP, name: "Büro 3 ☕" });
    const value = { version: 1, fingerprint: FP, name: "Büro 3 ☕" };
    expect(parseRegistryTxt(txt)).toEqual({ ok: true, value });
    // What bonjour-service's browser keeps as `rawTxt`: one Buffer per "key=value".
    const raw = Object.entries(txt).map(([k, v]) => bytes(`${k}=${v}`));
    expect(parseRegistryTxt(raw)).toEqual({ ok: true, value });
  });

  it("accepts Buffer values, upper-case keys and unknown keys", () => {
    expect(parseRegistryTxt({ V: bytes("1"), FP: bytes(FP), extra: "x", flag: true })).toEqual({
      ok: true,
      value: { version: 1, fingerprint: FP },
    });
  });

  it("keeps the first occurrence of a repeated key (RFC 6763 §6.4)", () => {
    const r = parseRegistryTxt([bytes("v=1"), bytes(`fp=${FP}`), bytes("fp=other"), bytes("V=7")]);
    expect(r).toEqual({ ok: true, value: { version: 1, fingerprint: FP } });
  });

  it("keeps '=' inside a value and ignores boolean attributes", () => {
    const r = parseRegistryTxt([bytes("v=1"), bytes("fp=abc=="), bytes("debug")]);
    expect(r).toEqual({ ok: true, value: { version: 1, fingerprint: "abc==" } });
  });

  it("rejects garbage of every shape with WIRE_BAD_VALUE", () => {
    for (const garbage of [undefined, null, 0, 1, "v=1", true, Symbol("x"), () => 1]) badValue(garbage);
    expect(badValue({})).toMatch(/v/);
    expect(badValue({ fp: FP })).toMatch(/v/);
    expect(badValue({ v: "1" })).toMatch(/fp/);
    expect(badValue([])).toMatch(/v/);
    expect(badValue([42])).toMatch(/TXT string/);
    expect(badValue([bytes("x".repeat(256))])).toMatch(/255/);
    expect(badValue(Array.from({ length: 33 }, (_, i) => bytes(`k${i}=1`)))).toMatch(/more than/);
  });

  it("rejects bad versions", () => {
    for (const v of ["", "0", "01", "-1", "1.0", " 1", "1 ", "x", "65536", "99999999", "1e3", "0x1"]) {
      badValue({ v, fp: FP });
    }
    expect(parseRegistryTxt({ v: "65535", fp: FP }).ok).toBe(true);
    expect(parseRegistryTxt({ v: "2", fp: FP })).toEqual({
      ok: true,
      value: { version: 2, fingerprint: FP },
    });
  });

  it("rejects bad fingerprints", () => {
    for (const fp of ["", "has space", "tab\there", "nul\0", "é", "x".repeat(129)]) badValue({ v: "1", fp });
    badValue({ v: "1", fp: 7 });
    expect(parseRegistryTxt({ v: "1", fp: "x".repeat(128) }).ok).toBe(true);
  });

  it("rejects bad names but allows none", () => {
    badValue({ v: "1", fp: FP, name: "" });
    badValue({ v: "1", fp: FP, name: "a\nb" });
    badValue({ v: "1", fp: FP, name: "x".repeat(64) });
    badValue({ v: "1", fp: FP, name: "é".repeat(32) }); // 64 bytes
    badValue([bytes("v=1"), bytes(`fp=${FP}`), Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3d, 0xff, 0xfe])]);
    expect(parseRegistryTxt({ v: "1", fp: FP, name: "x".repeat(63) }).ok).toBe(true);
  });

  it("decodes 20,000 random byte strings without throwing", () => {
    let seed = 0x2545f491;
    const next = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return seed >>> 0;
    };
    for (let i = 0; i < 20_000; i++) {
      const strings = Array.from({ length: next() % 5 }, () =>
        Buffer.from(Array.from({ length: next() % 40 }, () => next() & 0xff)),
      );
      const r = parseRegistryTxt(
        i % 2 === 0 ? strings : Object.fromEntries(strings.map((s, j) => [`k${j}`, s])),
      );
      if (r.ok) expect(r.value.version).toBeGreaterThan(0);
    }
  });

  it("throws on local misuse when encoding", () => {
    const codeOf = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(HallwayError);
        return (err as HallwayError).code;
      }
      return undefined;
    };
    expect(codeOf(() => encodeRegistryTxt({ version: 1, fingerprint: FP, name: "" }))).toBe("CLI_BAD_ARGS");
    expect(codeOf(() => encodeRegistryTxt({ version: 1, fingerprint: FP, name: "x".repeat(64) }))).toBe(
      "CLI_BAD_ARGS",
    );
    expect(codeOf(() => encodeRegistryTxt({ version: 0, fingerprint: FP }))).toBe("MISUSE");
    expect(codeOf(() => encodeRegistryTxt({ version: 1.5, fingerprint: FP }))).toBe("MISUSE");
    expect(codeOf(() => encodeRegistryTxt({ version: 1, fingerprint: "" }))).toBe("MISUSE");
  });
});

describe("registry instance name", () => {
  it("tags the display name with the start of the fingerprint", () => {
    expect(fingerprintTag(FP)).toBe("AbCd");
    expect(fingerprintTag("ab:cd:ef:01:23")).toBe("abcd");
    expect(fingerprintTag("0f1e2d3c4b5a")).toBe("0f1e");
    expect(registryInstanceName("Office", FP)).toBe("Office (AbCd)");
    expect(registryInstanceName("Office", FP, 2)).toBe("Office (AbCd) #2");
  });

  it("replaces dots and fits the label in 63 bytes without splitting a character", () => {
    expect(registryInstanceName("floor.3", FP)).toBe("floor-3 (AbCd)");
    const long = registryInstanceName("☕".repeat(40), FP, 12);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(MAX_INSTANCE_NAME_BYTES);
    expect(long.endsWith(" (AbCd) #12")).toBe(true);
    expect(long).not.toContain("\uFFFD");
    expect(long.replace(" (AbCd) #12", "")).toMatch(/^☕+$/);
  });
});
