import { describe, expect, it } from "vitest";
import { encodeData, encodeDataHeader } from "../../../src/protocol/datagram.js";
import { isProbe } from "../../../src/protocol/probe.js";
import {
  decodeRelay,
  encodeRelay,
  isRelay,
  MAX_RELAYED_BYTES,
  RELAY_HEADER_BYTES,
} from "../../../src/protocol/relay.js";

const token = Uint8Array.from({ length: 16 }, (_, i) => i + 1);

describe("relay envelopes", () => {
  it("wrap a whole datagram behind a 17-byte header and unwrap it unchanged", () => {
    const header = encodeDataHeader(7, 3);
    const inner = encodeData(header, new Uint8Array(40).fill(9));
    const env = encodeRelay(token, inner);
    expect(env.length).toBe(RELAY_HEADER_BYTES + inner.length);
    expect(isRelay(env)).toBe(true);
    expect(isRelay(inner)).toBe(false);
    expect(isProbe(env)).toBe(false);
    const back = decodeRelay(env);
    expect(back.ok && [...back.value.token]).toEqual([...token]);
    expect(back.ok && [...back.value.inner]).toEqual([...inner]);
  });

  it("carry the largest Hallway datagram (a padded HS_INIT) inside an Ethernet MTU", () => {
    const env = encodeRelay(token, new Uint8Array(MAX_RELAYED_BYTES).fill(1));
    expect(env.length).toBeLessThanOrEqual(1472);
    expect(decodeRelay(env).ok).toBe(true);
  });

  it("refuse what is not an envelope, an empty one and an oversized one, without throwing", () => {
    const env = encodeRelay(token, new Uint8Array(10));
    expect(decodeRelay(env.subarray(0, RELAY_HEADER_BYTES))).toMatchObject({
      ok: false,
      error: { code: "WIRE_TRUNCATED" },
    });
    expect(decodeRelay(new Uint8Array(0))).toMatchObject({ ok: false, error: { code: "WIRE_BAD_KIND" } });
    const big = new Uint8Array(RELAY_HEADER_BYTES + MAX_RELAYED_BYTES + 1);
    big[0] = env[0] as number;
    expect(decodeRelay(big)).toMatchObject({ ok: false, error: { code: "WIRE_TOO_LARGE" } });
    expect(() => encodeRelay(token, new Uint8Array(0))).toThrow(RangeError);
    expect(() => encodeRelay(token.subarray(1), new Uint8Array(1))).toThrow(RangeError);
  });
});
