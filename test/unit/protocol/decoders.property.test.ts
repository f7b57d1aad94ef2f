/**
 * Property tests (fast-check): the two decoders that see bytes from the network are total.
 * `decodeDatagram` (outer header) and `decodeControl` (control messages) return a value or a
 * typed error for any input and never throw; what the encoders write decodes back to what
 * they were given. Failures print fast-check's seed and shrink path.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, type ErrorCode } from "../../../src/errors.js";
import {
  type Control,
  decodeControl,
  encodeControl,
  MAX_NAME_CHARS,
  MAX_PASSWORD_CHARS,
  requestIdOf,
} from "../../../src/protocol/control.js";
import {
  decodeDatagram,
  encodeData,
  encodeDataHeader,
  encodeHsInit,
  encodeHsReply,
  HS_INIT_BYTES,
} from "../../../src/protocol/datagram.js";
import {
  AEAD_TAG_BYTES,
  DATA_HEADER_BYTES,
  MAX_DATAGRAM_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_TEXT_BYTES,
} from "../../../src/protocol/limits.js";

// Deterministic by default, like every other test here; set HALLWAY_FC_SEED to explore.
fc.configureGlobal({ seed: Number(process.env.HALLWAY_FC_SEED ?? 0xdec0de), numRuns: 500 });

const utf8 = new TextEncoder();
const MAX_NOISE_BYTES = 1024; // datagram.ts MAX_NOISE_MESSAGE_BYTES (not exported)

const u32 = fc.integer({ min: 0, max: 0xffffffff });
/** Bytes that look like Hallway: one of the four session kinds, or any byte with the top bit set. */
const hallwayLooking = fc
  .tuple(
    fc.oneof(fc.integer({ min: 0x91, max: 0x94 }), fc.integer({ min: 0x80, max: 0xff })),
    fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ minLength: HS_INIT_BYTES - 8, maxLength: MAX_DATAGRAM_BYTES + 8 }),
    ),
  )
  .map(([b0, rest]) => Uint8Array.of(b0, ...rest));

function expectWireError(decoded: ReturnType<typeof decodeDatagram>): void {
  if (decoded.ok) return;
  expect(ERROR_CODES).toContain(decoded.error.code);
  expect(decoded.error.code.startsWith("WIRE_")).toBe(true);
  expect(typeof decoded.error.detail).toBe("string");
}

describe("decodeDatagram", () => {
  it("is total on arbitrary bytes: a datagram or a WIRE_* error, never a throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: MAX_DATAGRAM_BYTES + 100 }), (bytes) => {
        expectWireError(decodeDatagram(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it("is total on forged Hallway headers, and what decodes re-encodes to the same bytes", () => {
    fc.assert(
      fc.property(hallwayLooking, (bytes) => {
        const decoded = decodeDatagram(bytes);
        expectWireError(decoded);
        if (!decoded.ok) return;
        const d = decoded.value;
        switch (d.kind) {
          case "hs-init":
            // Padding is not checked, so only the meaningful prefix is canonical.
            expect(bytes.length).toBeGreaterThanOrEqual(HS_INIT_BYTES);
            expect(encodeHsInit(d.senderIndex, d.noise).subarray(0, 7 + d.noise.length)).toEqual(
              bytes.subarray(0, 7 + d.noise.length),
            );
            break;
          case "hs-resp":
          case "hs-final":
            expect(encodeHsReply(d.kind, d.senderIndex, d.receiverIndex, d.noise)).toEqual(bytes);
            break;
          case "data":
            expect(encodeData(encodeDataHeader(d.receiverIndex, d.packetNumber), d.sealed)).toEqual(bytes);
            break;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("round-trips handshake messages", () => {
    fc.assert(
      fc.property(u32, u32, fc.uint8Array({ maxLength: MAX_NOISE_BYTES }), (sender, receiver, noise) => {
        const init = encodeHsInit(sender, noise);
        expect(init.length).toBe(Math.max(HS_INIT_BYTES, 7 + noise.length));
        expect(decodeDatagram(init)).toEqual({
          ok: true,
          value: { kind: "hs-init", senderIndex: sender, noise },
        });
        for (const kind of ["hs-resp", "hs-final"] as const) {
          expect(decodeDatagram(encodeHsReply(kind, sender, receiver, noise))).toEqual({
            ok: true,
            value: { kind, senderIndex: sender, receiverIndex: receiver, noise },
          });
        }
      }),
    );
  });

  it("round-trips DATA headers, across the whole packet-number range", () => {
    const packetNumber = fc.oneof(
      fc.maxSafeNat(),
      fc.integer({ min: Number.MAX_SAFE_INTEGER - 100, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ min: 0xffffff00, max: 0x100000100 }),
    );
    const sealed = fc.uint8Array({
      minLength: AEAD_TAG_BYTES,
      maxLength: MAX_DATAGRAM_BYTES - DATA_HEADER_BYTES,
    });
    fc.assert(
      fc.property(u32, packetNumber, sealed, (receiver, pn, body) => {
        const header = encodeDataHeader(receiver, pn);
        expect(decodeDatagram(encodeData(header, body))).toEqual({
          ok: true,
          value: { kind: "data", receiverIndex: receiver, packetNumber: pn, header, sealed: body },
        });
      }),
    );
  });

  it("names truncation, oversize and foreign bytes with stable codes", () => {
    const code = (b: Uint8Array): ErrorCode | undefined => {
      const d = decodeDatagram(b);
      return d.ok ? undefined : d.error.code;
    };
    fc.assert(
      fc.property(
        u32,
        fc.uint8Array({ minLength: 32, maxLength: MAX_NOISE_BYTES }),
        fc.nat(),
        (i, noise, cut) => {
          const init = encodeHsInit(i, noise);
          expect(code(init.subarray(0, cut % HS_INIT_BYTES))).toBe("WIRE_TRUNCATED");
          const reply = encodeHsReply("hs-resp", i, i, noise);
          expect(code(reply.subarray(0, 1 + (cut % 8)))).toBe("WIRE_TRUNCATED");
          const data = encodeData(encodeDataHeader(i, cut), noise.subarray(0, AEAD_TAG_BYTES));
          expect(code(data.subarray(0, cut % data.length))).toBe("WIRE_TRUNCATED");
        },
      ),
    );
    expect(code(new Uint8Array(MAX_DATAGRAM_BYTES + 1).fill(0x94))).toBe("WIRE_TOO_LARGE");
    expect(code(Uint8Array.of(0x01, 0x02))).toBe("WIRE_BAD_VERSION"); // top bit clear: STUN's space
    expect(code(Uint8Array.of(0xa1))).toBe("WIRE_BAD_VERSION");
    expect(code(Uint8Array.of(0x95, 0, 0, 0, 0))).toBe("WIRE_BAD_KIND");
    const tooLong = new Uint8Array(HS_INIT_BYTES);
    tooLong.set([0x91, 0, 0, 0, 1, 0x04, 0x01]); // claims 1025 bytes of Noise
    expect(code(tooLong)).toBe("WIRE_BAD_VALUE");
    const hugePn = encodeData(encodeDataHeader(1, 0), new Uint8Array(AEAD_TAG_BYTES));
    hugePn.set([0x00, 0x20, 0x00, 0x00], 5); // 2^53: past what a JS number holds exactly
    expect(code(hugePn)).toBe("WIRE_BAD_VALUE");
  });
});

// ---- control messages ---------------------------------------------------------------------

const nameArb = fc.string({ unit: "binary", minLength: 1, maxLength: MAX_NAME_CHARS / 2 });
const ridArb = fc.maxSafeNat();
const timeArb = fc.maxSafeNat();
const idArb = fc.string({ minLength: 8, maxLength: 64 });
const textArb = fc.oneof(
  fc.string({ unit: "binary", maxLength: 300 }),
  fc.constant("x".repeat(MAX_TEXT_BYTES)),
  fc.constant("é".repeat(MAX_TEXT_BYTES / 2)),
);
const addressArb = fc.record({
  host: fc.oneof(fc.ipV4(), fc.ipV6()),
  port: fc.integer({ min: 1, max: 65535 }),
});
const chatArb = fc.record({ id: idArb, from: nameArb, to: nameArb, text: textArb, sentAt: timeArb });
const passwordArb = fc.string({ unit: "binary", maxLength: MAX_PASSWORD_CHARS / 2 });

/** Every control message, valid by construction. */
const controlArb: fc.Arbitrary<Control> = fc.oneof(
  fc.record({ t: fc.constant("register" as const), rid: ridArb, user: nameArb, password: passwordArb }),
  fc.record({
    t: fc.constant("login" as const),
    rid: ridArb,
    user: nameArb,
    password: passwordArb,
    heartbeatMs: fc.integer({ min: 100, max: 600_000 }),
    addresses: fc.array(addressArb, { maxLength: 16 }),
  }),
  fc.record({ t: fc.constantFrom("logout" as const, "heartbeat" as const, "users" as const), rid: ridArb }),
  fc.record({
    t: fc.constant("presence.set" as const),
    rid: ridArb,
    status: fc.constantFrom("online" as const, "away" as const),
  }),
  fc.record({ t: fc.constant("lookup" as const), rid: ridArb, user: nameArb }),
  fc.record({ t: fc.constant("offline.send" as const), rid: ridArb, msg: chatArb }),
  fc.record({ t: fc.constant("offline.ack" as const), rid: ridArb, ids: fc.array(idArb, { maxLength: 20 }) }),
  fc.record({
    t: fc.constant("history.append" as const),
    rid: ridArb,
    msg: fc.record({
      id: idArb,
      from: nameArb,
      to: nameArb,
      text: textArb,
      sentAt: timeArb,
      deliveredAt: fc.option(timeArb, { nil: null }),
    }),
  }),
  fc.record(
    {
      t: fc.constant("history" as const),
      rid: ridArb,
      with: nameArb,
      limit: fc.integer({ min: 1, max: 500 }),
      before: fc.record({ sentAt: timeArb, id: idArb }),
    },
    { requiredKeys: ["t", "rid", "with", "limit"] },
  ),
  fc.record(
    { t: fc.constant("ok" as const), rid: ridArb, data: fc.jsonValue() },
    { requiredKeys: ["t", "rid"] },
  ),
  fc.record({
    t: fc.constant("err" as const),
    rid: ridArb,
    code: fc.constantFrom(...ERROR_CODES),
    message: fc.string({ maxLength: 500 }),
  }),
  fc.record({
    t: fc.constant("presence" as const),
    user: nameArb,
    status: fc.constantFrom("online" as const, "away" as const, "offline" as const),
    at: timeArb,
  }),
  fc.record({ t: fc.constant("offline.deliver" as const), msgs: fc.array(chatArb, { maxLength: 5 }) }),
  fc.record({ t: fc.constant("delivered" as const), id: idArb, at: timeArb }),
  fc.record({ t: fc.constant("hello" as const), user: nameArb }),
  fc.record({ t: fc.constant("chat" as const), msg: chatArb }),
  fc.record({ t: fc.constant("receipt" as const), id: idArb, at: timeArb }),
);

/** JSON objects that get past the discriminator: a known `t` with arbitrary other fields. */
const nearMissArb = fc
  .tuple(
    fc.constantFrom("nope", "ok", "err", "login", "chat", "offline.deliver", "history", "hello"),
    fc.dictionary(
      fc.constantFrom(
        "rid",
        "user",
        "msg",
        "msgs",
        "ids",
        "code",
        "message",
        "data",
        "at",
        "id",
        "before",
        "x",
      ),
      fc.jsonValue({ maxDepth: 3 }),
    ),
  )
  .map(([t, rest]) => ({ ...rest, t }));

function expectControlError(decoded: ReturnType<typeof decodeControl>): void {
  if (decoded.ok) return;
  expect(["PROTO_BAD_MESSAGE", "WIRE_TOO_LARGE"]).toContain(decoded.error.code);
  expect(typeof decoded.error.detail).toBe("string");
}

/** What a JSON round trip leaves of a value (e.g. -0 becomes 0). */
const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe("decodeControl", () => {
  it("is total on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        expectControlError(decodeControl(bytes));
        const rid = requestIdOf(bytes);
        if (rid !== undefined) expect(Number.isSafeInteger(rid) && rid >= 0).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("is total on arbitrary JSON values and on near-miss messages", () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), nearMissArb), (value) => {
        const bytes = utf8.encode(JSON.stringify(value) ?? "null");
        expectControlError(decodeControl(bytes));
        requestIdOf(bytes);
      }),
      { numRuns: 2000 },
    );
  });

  it("round-trips every valid message", () => {
    fc.assert(
      fc.property(controlArb, (msg) => {
        const bytes = encodeControl(msg);
        expect(decodeControl(bytes)).toEqual({ ok: true, value: viaJson(msg) });
        expect(requestIdOf(bytes)).toBe("rid" in msg ? msg.rid : undefined);
      }),
    );
  });

  it("is total on damaged valid messages, and answers a readable rid", () => {
    fc.assert(
      fc.property(
        controlArb,
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }),
        (msg, cut, flips) => {
          const bytes = encodeControl(msg);
          const damaged = bytes.slice(0, cut % (bytes.length + 1));
          for (const [at, mask] of flips) {
            if (damaged.length > 0)
              damaged[at % damaged.length] = (damaged[at % damaged.length] as number) ^ mask;
          }
          expectControlError(decodeControl(damaged));
          const rid = requestIdOf(damaged);
          if (rid !== undefined) expect(Number.isSafeInteger(rid) && rid >= 0).toBe(true);
        },
      ),
    );
  });

  it("refuses what the schemas bound, with stable codes", () => {
    const err = (v: unknown) => {
      const d = decodeControl(utf8.encode(JSON.stringify(v)));
      return d.ok ? undefined : d.error.code;
    };
    const chat = { id: "12345678", from: "alice", to: "bob", text: "hi", sentAt: 1 };
    expect(err({ t: "chat", msg: chat })).toBeUndefined();
    expect(err({ t: "chat", msg: { ...chat, text: "x".repeat(MAX_TEXT_BYTES + 1) } })).toBe(
      "PROTO_BAD_MESSAGE",
    );
    // Within the limit in UTF-16 units, over it in UTF-8 bytes.
    expect(err({ t: "chat", msg: { ...chat, text: "é".repeat(MAX_TEXT_BYTES / 2 + 1) } })).toBe(
      "PROTO_BAD_MESSAGE",
    );
    expect(err({ t: "lookup", rid: 1, user: "" })).toBe("PROTO_BAD_MESSAGE");
    expect(err({ t: "lookup", rid: 1, user: "u".repeat(MAX_NAME_CHARS + 1) })).toBe("PROTO_BAD_MESSAGE");
    expect(err({ t: "register", rid: 1, user: "bob", password: "p".repeat(MAX_PASSWORD_CHARS + 1) })).toBe(
      "PROTO_BAD_MESSAGE",
    );
    expect(err({ t: "users", rid: -1 })).toBe("PROTO_BAD_MESSAGE");
    expect(err({ t: "users", rid: 2 ** 53 })).toBe("PROTO_BAD_MESSAGE");
    expect(err({ t: "err", rid: 1, code: "NOT_A_CODE", message: "" })).toBe("PROTO_BAD_MESSAGE");
    expect(decodeControl(Uint8Array.of(0x7b, 0xff, 0x7d))).toMatchObject({
      ok: false,
      error: { code: "PROTO_BAD_MESSAGE" },
    });
    expect(decodeControl(new Uint8Array(MAX_MESSAGE_BYTES + 1))).toMatchObject({
      ok: false,
      error: { code: "WIRE_TOO_LARGE" },
    });
    expect(requestIdOf(new Uint8Array(MAX_MESSAGE_BYTES + 1))).toBeUndefined();
    expect(requestIdOf(utf8.encode('{"t":"frobnicate","rid":7}'))).toBe(7);
    expect(requestIdOf(utf8.encode('{"rid":"7"}'))).toBeUndefined();
  });

  it("survives deeply nested JSON", () => {
    const depth = 100_000;
    const nested = `${"[".repeat(depth)}${"]".repeat(depth)}`;
    for (const text of [nested, `{"t":"ok","rid":1,"data":${nested}}`, `{"t":"chat","msg":${nested}}`]) {
      const bytes = utf8.encode(text);
      expect(bytes.length).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
      expectControlError(decodeControl(bytes));
      requestIdOf(bytes);
    }
  });
});

describe("addresses on the wire", () => {
  it("are IP literals: a name to resolve or a relay stand-in is refused", () => {
    const punch = (host: string) =>
      new TextEncoder().encode(
        JSON.stringify({
          t: "punch",
          from: "alice",
          token: "00".repeat(16),
          publicKey: "11".repeat(32),
          candidates: [{ type: "host", address: { host, port: 4000 } }],
        }),
      );
    expect(decodeControl(punch("10.0.0.7")).ok).toBe(true);
    expect(decodeControl(punch("2001:db8::7")).ok).toBe(true);
    for (const host of ["relay", "printer.local", "localhost", ""]) {
      expect(decodeControl(punch(host)), host).toMatchObject({
        ok: false,
        error: { code: "PROTO_BAD_MESSAGE" },
      });
    }
  });
});
