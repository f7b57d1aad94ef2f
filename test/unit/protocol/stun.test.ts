import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  answerStun,
  decodeStun,
  encodeStun,
  readXorMappedAddress,
  STUN_ATTR,
  STUN_BINDING_ERROR,
  STUN_BINDING_REQUEST,
  STUN_BINDING_SUCCESS,
  STUN_MAGIC_COOKIE,
  xorMappedAddress,
} from "../../../src/protocol/stun.js";

const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));

// RFC 5769 §2.2 and §2.3: sample Binding responses, mapped address 192.0.2.1:32853 and
// 2001:db8:1234:5678:11:2233:4455:6677 port 32853, with MESSAGE-INTEGRITY and FINGERPRINT.
const RFC5769_IPV4 = hex(`
  0101003c 2112a442 b7e7a701 bc34d686 fa87dfae
  8022000b 74657374 20766563 746f7220
  00200008 0001a147 e112a643
  00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7
  80280004 c07d4c96`);
const RFC5769_IPV6 = hex(`
  01010048 2112a442 b7e7a701 bc34d686 fa87dfae
  8022000b 74657374 20766563 746f7220
  00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9
  00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
  80280004 c8fb0b4c`);

function attr(msg: ReturnType<typeof decodeStun>, type: number): Uint8Array {
  if (!msg.ok) throw new Error(msg.error.detail);
  const a = msg.value.attributes.find((x) => x.type === type);
  if (!a) throw new Error(`no attribute ${type}`);
  return a.value;
}

function bindingRequest(tid: Uint8Array, attributes: Array<{ type: number; value: Uint8Array }> = []) {
  return encodeStun(STUN_BINDING_REQUEST, tid, attributes);
}

describe("STUN (RFC 8489) against the RFC 5769 vectors", () => {
  for (const [label, bytes, expected] of [
    ["IPv4", RFC5769_IPV4, { host: "192.0.2.1", port: 32853 }],
    ["IPv6", RFC5769_IPV6, { host: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853 }],
  ] as const) {
    it(`decodes the ${label} sample response and checks its FINGERPRINT`, () => {
      const msg = decodeStun(bytes);
      expect(msg.ok).toBe(true);
      if (!msg.ok) return;
      expect(msg.value.type).toBe(STUN_BINDING_SUCCESS);
      const mapped = readXorMappedAddress(attr(msg, STUN_ATTR.XOR_MAPPED_ADDRESS), msg.value.transactionId);
      expect(mapped).toEqual({ ok: true, value: expected });
    });

    it(`encodes ${label} XOR-MAPPED-ADDRESS byte for byte as the sample does`, () => {
      const msg = decodeStun(bytes);
      if (!msg.ok) throw new Error("vector did not decode");
      expect(xorMappedAddress(expected, msg.value.transactionId)).toEqual(
        attr(msg, STUN_ATTR.XOR_MAPPED_ADDRESS),
      );
    });
  }

  it("rejects a sample whose FINGERPRINT no longer matches", () => {
    const bad = RFC5769_IPV4.slice();
    bad[30] = (bad[30] as number) ^ 1; // one bit of the SOFTWARE text
    const msg = decodeStun(bad);
    expect(msg.ok).toBe(false);
    if (!msg.ok) expect(msg.error.detail).toMatch(/FINGERPRINT/);
  });
});

describe("answerStun", () => {
  const tid = hex("0102030405060708090a0b0c");

  it("answers a Binding request with the source address as XOR-MAPPED-ADDRESS and a FINGERPRINT", () => {
    const answer = answerStun(encodeStun(STUN_BINDING_REQUEST, tid, [], { fingerprint: true }), {
      host: "10.203.7.9",
      port: 40123,
    });
    expect(answer.ok).toBe(true);
    if (!answer.ok) return;
    const msg = decodeStun(answer.value); // also verifies the FINGERPRINT
    expect(msg.ok && msg.value.type).toBe(STUN_BINDING_SUCCESS);
    if (!msg.ok) return;
    expect(msg.value.transactionId).toEqual(tid);
    expect(readXorMappedAddress(attr(msg, STUN_ATTR.XOR_MAPPED_ADDRESS), tid)).toEqual({
      ok: true,
      value: { host: "10.203.7.9", port: 40123 },
    });
    expect(msg.value.attributes.at(-1)?.type).toBe(STUN_ATTR.FINGERPRINT);
    // 20 header + 12 XOR-MAPPED-ADDRESS + 8 FINGERPRINT; no SOFTWARE.
    expect(answer.value.length).toBe(40);
  });

  it("adds FINGERPRINT only when the request had one, and never SOFTWARE", () => {
    const bare = answerStun(encodeStun(STUN_BINDING_REQUEST, tid, []), { host: "10.0.0.1", port: 1 });
    if (!bare.ok) throw new Error(bare.error.detail);
    expect(bare.value.length).toBe(32);
    const msg = decodeStun(bare.value);
    expect(msg.ok && msg.value.attributes.map((a) => a.type)).toEqual([STUN_ATTR.XOR_MAPPED_ADDRESS]);
  });

  it("accepts RFC 5780 PADDING, so a client can make its request as large as the answer", () => {
    const req = encodeStun(
      STUN_BINDING_REQUEST,
      tid,
      [{ type: STUN_ATTR.PADDING, value: new Uint8Array(12) }],
      {
        fingerprint: true,
      },
    );
    const answer = answerStun(req, { host: "10.0.0.1", port: 1 });
    if (!answer.ok) throw new Error(answer.error.detail);
    expect(decodeStun(answer.value).ok && answer.value.length).toBe(40);
    expect(req.length).toBe(44);
  });

  it("reports an IPv4-mapped IPv6 source as IPv4", () => {
    const answer = answerStun(bindingRequest(tid), { host: "::ffff:127.0.0.1", port: 5000 });
    if (!answer.ok) throw new Error(answer.error.detail);
    const msg = decodeStun(answer.value);
    expect(readXorMappedAddress(attr(msg, STUN_ATTR.XOR_MAPPED_ADDRESS), tid)).toEqual({
      ok: true,
      value: { host: "127.0.0.1", port: 5000 },
    });
  });

  it("answers a request carrying SOFTWARE and FINGERPRINT (comprehension-optional)", () => {
    const req = encodeStun(
      STUN_BINDING_REQUEST,
      tid,
      [{ type: STUN_ATTR.SOFTWARE, value: new TextEncoder().encode("client") }],
      { fingerprint: true },
    );
    const answer = answerStun(req, { host: "127.0.0.1", port: 1 });
    expect(answer.ok && decodeStun(answer.value).ok).toBe(true);
  });

  it("answers unknown comprehension-required attributes with 420 and UNKNOWN-ATTRIBUTES", () => {
    const req = bindingRequest(tid, [
      { type: 0x0024, value: new Uint8Array(4) }, // PRIORITY (ICE), unknown to a plain server
      { type: 0x802a, value: new Uint8Array(8) }, // ICE-CONTROLLING, optional: ignored
    ]);
    const answer = answerStun(req, { host: "127.0.0.1", port: 1 });
    if (!answer.ok) throw new Error(answer.error.detail);
    const msg = decodeStun(answer.value);
    expect(msg.ok && msg.value.type).toBe(STUN_BINDING_ERROR);
    expect(attr(msg, STUN_ATTR.ERROR_CODE)).toEqual(
      new Uint8Array([0, 0, 4, 20, ...new TextEncoder().encode("Unknown Attribute")]),
    );
    expect(attr(msg, STUN_ATTR.UNKNOWN_ATTRIBUTES)).toEqual(new Uint8Array([0x00, 0x24]));
  });

  it("does not answer responses, indications or other methods", () => {
    const from = { host: "127.0.0.1", port: 1 };
    expect(answerStun(encodeStun(STUN_BINDING_SUCCESS, tid, []), from).ok).toBe(false);
    expect(answerStun(encodeStun(0x0011, tid, []), from).ok).toBe(false); // Binding indication
    expect(answerStun(encodeStun(0x0003, tid, []), from).ok).toBe(false); // Allocate (TURN)
  });

  it("rejects bad lengths, truncation, and attributes after FINGERPRINT", () => {
    const from = { host: "127.0.0.1", port: 1 };
    const req = bindingRequest(tid, [{ type: STUN_ATTR.SOFTWARE, value: new Uint8Array(5) }]);
    expect(answerStun(req.subarray(0, req.length - 4), from).ok).toBe(false);
    const odd = req.slice();
    odd[3] = 7;
    expect(answerStun(odd, from).ok).toBe(false);
    const afterFp = encodeStun(STUN_BINDING_REQUEST, tid, [], { fingerprint: true });
    const extended = new Uint8Array(afterFp.length + 8);
    extended.set(afterFp);
    extended.set([0x80, 0x22, 0x00, 0x04, 0x61, 0x62, 0x63, 0x64], afterFp.length);
    new DataView(extended.buffer).setUint16(2, extended.length - 20);
    const decoded = decodeStun(extended);
    expect(decoded.ok).toBe(false);
  });

  it("is total: arbitrary bytes after a valid header never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(0xffff), (tail, type) => {
        const buf = new Uint8Array(20 + tail.length);
        const view = new DataView(buf.buffer);
        view.setUint16(0, type & 0x3fff);
        view.setUint16(2, tail.length);
        view.setUint32(4, STUN_MAGIC_COOKIE);
        buf.set(tail, 20);
        const answer = answerStun(buf, { host: "127.0.0.1", port: 9 });
        if (answer.ok) expect(decodeStun(answer.value).ok).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
