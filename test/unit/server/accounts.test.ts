import { describe, expect, it } from "vitest";
import { HallwayError } from "../../../src/errors.js";
import { systemRuntime } from "../../../src/net/system-runtime.js";
import {
  checkScryptParams,
  DEFAULT_SCRYPT,
  hashPassword,
  normalizeUsername,
  validatePassword,
  validateUsername,
  verifyPassword,
} from "../../../src/server/accounts.js";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(HallwayError);
    expect((err as HallwayError).message).not.toContain("\n");
    return (err as HallwayError).code;
  }
}

describe("usernames", () => {
  it("normalises by trimming and lower-casing, without validating", () => {
    expect(normalizeUsername("  Alice.Smith ")).toBe("alice.smith");
    expect(normalizeUsername("bob_2-x")).toBe("bob_2-x");
    expect(normalizeUsername(" Admin ")).toBe("admin");
  });

  it("accepts 3 to 32 characters", () => {
    expect(codeOf(() => validateUsername("abc"))).toBeUndefined();
    expect(codeOf(() => validateUsername("a".repeat(32)))).toBeUndefined();
    expect(codeOf(() => validateUsername("ab"))).toBe("AUTH_BAD_USERNAME");
    expect(codeOf(() => validateUsername("a".repeat(33)))).toBe("AUTH_BAD_USERNAME");
    expect(codeOf(() => validateUsername(normalizeUsername("  ab  ")))).toBe("AUTH_BAD_USERNAME");
  });

  it.each([
    ["starts with a digit", "1alice"],
    ["starts with a dot", ".alice"],
    ["has a space", "al ice"],
    ["has an at sign", "alice@work"],
    ["is not lower-case", "Alice"],
    ["is not ASCII", "élodie"],
    ["has a control character", "ali\u0000ce"],
  ])("refuses a name that %s", (_why, name) => {
    expect(codeOf(() => validateUsername(name))).toBe("AUTH_BAD_USERNAME");
  });

  it("refuses reserved names, however they are typed", () => {
    for (const name of ["admin", "registry", "system", "hallway"]) {
      expect(codeOf(() => validateUsername(name))).toBe("AUTH_BAD_USERNAME");
    }
    expect(codeOf(() => validateUsername(normalizeUsername(" Admin ")))).toBe("AUTH_BAD_USERNAME");
    expect(() => validateUsername("admin")).toThrow(/reserved/);
  });

  it("explains the length rule in one line", () => {
    expect(() => validateUsername("ab")).toThrow("username must be 3–32 characters (got 2)");
  });
});

describe("passwords", () => {
  it("accepts a reasonable password", () => {
    expect(codeOf(() => validatePassword("correct horse battery", "alice"))).toBeUndefined();
    expect(codeOf(() => validatePassword("xxxxxxxy", "alice"))).toBeUndefined();
  });

  it("needs at least 8 characters, counted as characters not bytes", () => {
    expect(codeOf(() => validatePassword("abc-123", "alice"))).toBe("AUTH_WEAK_PASSWORD");
    expect(() => validatePassword("abc-123", "alice")).toThrow(/at least 8 characters/);
    // Seven emoji are 14 UTF-16 units but still seven characters.
    expect(codeOf(() => validatePassword("🔑🗝🔒🔓🚪🏠🏢", "alice"))).toBe("AUTH_WEAK_PASSWORD");
  });

  it("allows at most 1024 bytes", () => {
    const base = "Zq8!".repeat(256); // 1024 bytes
    expect(codeOf(() => validatePassword(base, "alice"))).toBeUndefined();
    expect(codeOf(() => validatePassword(`${base}x`, "alice"))).toBe("AUTH_WEAK_PASSWORD");
    expect(codeOf(() => validatePassword("é".repeat(513), "alice"))).toBe("AUTH_WEAK_PASSWORD");
  });

  it("refuses a password containing the username, in any case", () => {
    expect(codeOf(() => validatePassword("my-alice-pass", "alice"))).toBe("AUTH_WEAK_PASSWORD");
    expect(codeOf(() => validatePassword("ALICE2024!!", "alice"))).toBe("AUTH_WEAK_PASSWORD");
  });

  it("refuses one character repeated", () => {
    expect(codeOf(() => validatePassword("aaaaaaaaaaaa", "bob"))).toBe("AUTH_WEAK_PASSWORD");
    expect(codeOf(() => validatePassword("🔑".repeat(10), "bob"))).toBe("AUTH_WEAK_PASSWORD");
  });

  it("refuses the most common passwords, in any case", () => {
    for (const pw of ["password", "Password1", "12345678", "qwerty123", "iloveyou"]) {
      expect(codeOf(() => validatePassword(pw, "bob"))).toBe("AUTH_WEAK_PASSWORD");
    }
  });
});

describe("password hashes", () => {
  const random = systemRuntime.random;

  it("encodes every scrypt parameter with the hash", async () => {
    const encoded = await hashPassword("correct horse battery", random);
    expect(encoded).toMatch(/^scrypt\$15\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(encoded).not.toContain("correct horse battery");
  });

  it("verifies the right password and refuses a wrong one", async () => {
    const encoded = await hashPassword("correct horse battery", random);
    expect(await verifyPassword("correct horse battery", encoded)).toBe(true);
    expect(await verifyPassword("correct horse batterY", encoded)).toBe(false);
    expect(await verifyPassword("", encoded)).toBe(false);
  });

  it("uses a fresh salt for every hash", async () => {
    const a = await hashPassword("same password here", random);
    const b = await hashPassword("same password here", random);
    expect(a).not.toBe(b);
    expect(a.split("$")[4]).not.toBe(b.split("$")[4]);
  });

  it("matches composed and decomposed forms of the same password", async () => {
    const encoded = await hashPassword("caf\u00e9-au-lait", random);
    expect(await verifyPassword("cafe\u0301-au-lait", encoded)).toBe(true);
  });

  it("honours the parameters written in the string", async () => {
    const encoded = await hashPassword("correct horse battery", random);
    // The same salt at a different cost is a different hash: parameters are not ignored.
    const otherCost = encoded.replace("scrypt$15$8$1$", "scrypt$14$8$1$");
    expect(await verifyPassword("correct horse battery", otherCost)).toBe(false);
  });

  it("hashes new passwords at the cost it is given, with the caller's salt, and verifies them", async () => {
    const salt = new Uint8Array(16).fill(7);
    const cheap = { log2N: 4, r: 1, p: 1 };
    const encoded = await hashPassword("correct horse battery", () => salt, cheap);
    expect(encoded.startsWith(`scrypt$4$1$1$${Buffer.from(salt).toString("base64")}$`)).toBe(true);
    expect(await hashPassword("correct horse battery", () => salt, cheap)).toBe(encoded);
    expect(await verifyPassword("correct horse battery", encoded)).toBe(true);
    expect(await verifyPassword("correct horse batterY", encoded)).toBe(false);
  });

  it("refuses, as a misuse, a cost that verification would refuse", async () => {
    expect(() => checkScryptParams(DEFAULT_SCRYPT)).not.toThrow();
    for (const bad of [
      { log2N: 0, r: 1, p: 1 },
      { log2N: 21, r: 1, p: 1 },
      { log2N: 4, r: 33, p: 1 },
      { log2N: 4, r: 1.5, p: 1 },
      { log2N: 20, r: 32, p: 1 },
    ]) {
      expect(() => checkScryptParams(bad), JSON.stringify(bad)).toThrow(/outside what verification accepts/);
      await expect(hashPassword("correct horse battery", random, bad)).rejects.toMatchObject({
        code: "MISUSE",
      });
    }
  });

  it("refuses tampered or malformed hashes", async () => {
    const encoded = await hashPassword("correct horse battery", random);
    const parts = encoded.split("$");
    const hash = Buffer.from(parts[5] as string, "base64");
    hash[0] = (hash[0] as number) ^ 1;
    const flipped = [...parts.slice(0, 5), hash.toString("base64")].join("$");
    const salt = Buffer.from(parts[4] as string, "base64");
    salt[3] = (salt[3] as number) ^ 0x80;
    const saltFlipped = [...parts.slice(0, 4), salt.toString("base64"), parts[5]].join("$");

    for (const bad of [
      flipped,
      saltFlipped,
      encoded.slice(0, -4),
      encoded.replace("scrypt$", "bcrypt$"),
      encoded.replace("$15$", "$40$"), // absurd N is refused without trying it
      encoded.replace("$8$1$", "$8$1000$"),
      encoded.replace("$15$", "$015$"),
      `${encoded}$extra`,
      encoded.replace(/=$/, "*"),
      "",
      "scrypt",
    ]) {
      expect(await verifyPassword("correct horse battery", bad), bad).toBe(false);
    }
  });
});
