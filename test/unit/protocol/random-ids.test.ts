import { describe, expect, it } from "vitest";
import { hexId, randomFraction, uuid } from "../../../src/protocol/random-ids.js";
import type { Runtime } from "../../../src/runtime.js";

/** A runtime whose random source hands out the given bytes, over and over. */
function drawing(bytes: number[]): Runtime {
  const none = () => {
    throw new Error("not used");
  };
  return {
    now: none,
    wall: none,
    after: none,
    every: none,
    soon: none,
    random: (n) => Uint8Array.from({ length: n }, (_, i) => bytes[i % bytes.length] ?? 0),
  };
}

describe("ids and jitter from the runtime's random source", () => {
  it("a version 4 UUID from 16 bytes, its version and variant bits set", () => {
    expect(uuid(drawing([0xff]))).toBe("ffffffff-ffff-4fff-bfff-ffffffffffff");
    expect(uuid(drawing([0x00]))).toBe("00000000-0000-4000-8000-000000000000");
    expect(uuid(drawing([0x12, 0x34]))).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });

  it("hex ids of 12 bytes by default", () => {
    expect(hexId(drawing([0xab]))).toBe("ab".repeat(12));
    expect(hexId(drawing([0x01]), 2)).toBe("0101");
  });

  it("fractions in [0, 1)", () => {
    expect(randomFraction(drawing([0]))).toBe(0);
    expect(randomFraction(drawing([0x80, 0, 0, 0]))).toBe(0.5);
    const top = randomFraction(drawing([0xff]));
    expect(top).toBeLessThan(1);
    expect(top).toBeGreaterThan(0.999);
  });
});
