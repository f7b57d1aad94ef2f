import { describe, expect, it } from "vitest";
import { asHallwayError, ERROR_CODES, HallwayError, MisuseError } from "../../src/errors.js";
import { encodeRegistryTxt } from "../../src/protocol/mdns-txt.js";
import { generateIdentity } from "../../src/protocol/noise.js";

describe("errors: local or remote", () => {
  it("says remote for what the other side sent, local for the rest, unless told", () => {
    expect(new HallwayError("WIRE_BAD_FRAME", "x").origin).toBe("remote");
    expect(new HallwayError("PROTO_BAD_MESSAGE", "x").origin).toBe("remote");
    expect(new HallwayError("CRYPTO_UNEXPECTED_KEY", "x").origin).toBe("remote");
    expect(new HallwayError("MSG_EMPTY", "x").origin).toBe("local");
    expect(new HallwayError("CRYPTO_HANDSHAKE_TIMEOUT", "x").origin).toBe("local");
    // The registry answered with it: the client raises it as remote.
    expect(new HallwayError("AUTH_BAD_PASSWORD", "wrong password", { origin: "remote" }).origin).toBe(
      "remote",
    );
    expect(asHallwayError(new HallwayError("SESSION_REPLACED", "x", { origin: "remote" })).origin).toBe(
      "remote",
    );
    expect(asHallwayError(new Error("boom")).origin).toBe("local");
  });

  it("keeps the JSON of an error as it was: code, message, retry-after", () => {
    const e = new HallwayError("RATE_LIMITED", "slow down", { retryAfterMs: 5, origin: "remote" });
    expect(JSON.parse(JSON.stringify(e))).toEqual({
      code: "RATE_LIMITED",
      message: "slow down",
      retryAfterMs: 5,
    });
  });
});

describe("errors: misuse", () => {
  it("is its own class and code, always local, never INTERNAL", () => {
    const e = new MisuseError("Thing: bad option");
    expect(e).toBeInstanceOf(HallwayError);
    expect(e).toMatchObject({
      name: "MisuseError",
      code: "MISUSE",
      origin: "local",
      message: "Thing: bad option",
    });
    expect(ERROR_CODES).toContain("MISUSE");
  });

  it("is what a core throws when it is called against its contract", () => {
    const misuse = (fn: () => unknown): unknown => {
      try {
        fn();
      } catch (err) {
        return err;
      }
      return undefined;
    };
    expect(misuse(() => generateIdentity(() => new Uint8Array(3)))).toBeInstanceOf(MisuseError);
    expect(misuse(() => encodeRegistryTxt({ version: 0, fingerprint: "" }))).toBeInstanceOf(MisuseError);
  });
});
