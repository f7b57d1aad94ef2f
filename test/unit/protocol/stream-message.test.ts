/** The one decoder of what peers send on stream 0: control messages and file-transfer messages. */

import { describe, expect, it } from "vitest";
import { decodeStreamMessage } from "../../../src/protocol/stream-message.js";

const enc = (o: unknown) => new TextEncoder().encode(typeof o === "string" ? o : JSON.stringify(o));

describe("decodeStreamMessage", () => {
  it("routes by `t`: file.* to the file-transfer schema, the rest to the control schema", () => {
    expect(decodeStreamMessage(enc({ t: "file.done", id: "transfer-1" }))).toEqual({
      ok: true,
      value: { kind: "file", msg: { t: "file.done", id: "transfer-1" } },
    });
    expect(decodeStreamMessage(enc({ t: "receipt", id: "message-0001", at: 5 }))).toMatchObject({
      ok: true,
      value: { kind: "control", msg: { t: "receipt" } },
    });
  });

  it("gives a typed error for bytes that are not UTF-8 JSON, a bad message of either kind, or no type", () => {
    for (const bad of [
      "{",
      "\u00ff not json",
      { t: "file.done", id: "x" },
      { t: "receipt", id: 1 },
      { nothing: true },
      42,
      null,
    ]) {
      expect(decodeStreamMessage(enc(bad)), JSON.stringify(bad)).toMatchObject({
        ok: false,
        error: { code: "PROTO_BAD_MESSAGE" },
      });
    }
    expect(decodeStreamMessage(new Uint8Array(300 * 1024))).toMatchObject({
      ok: false,
      error: { code: "WIRE_TOO_LARGE" },
    });
  });
});
