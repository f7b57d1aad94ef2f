import { describe, expect, it } from "vitest";
import { numberedName, safeFileName } from "../../../src/transfers/file-name.js";

describe("safeFileName", () => {
  it("keeps only the last path component", () => {
    expect(safeFileName("../../etc/passwd")).toBe("passwd");
    expect(safeFileName("/etc/shadow")).toBe("shadow");
    expect(safeFileName("..\\..\\Windows\\win.ini")).toBe("win.ini");
    expect(safeFileName("C:\\boot.ini")).toBe("boot.ini");
  });

  it("never yields a name that climbs or hides", () => {
    for (const bad of ["..", ".", "...", "a/..", "../", " . ", ""]) {
      const name = safeFileName(bad);
      expect(name).toBe("file");
    }
    expect(safeFileName(".bashrc")).toBe("bashrc");
  });

  it("strips NUL, control characters and bidi overrides", () => {
    expect(safeFileName("a\u0000b\nc\td\u007fe\u009bf")).toBe("abcdef");
    expect(safeFileName("invoice\u202Efdp.exe")).toBe("invoicefdp.exe");
  });

  it("replaces characters Windows reserves and renames device names", () => {
    expect(safeFileName('a<b>c:d"e|f?g*h.txt')).toBe("a_b_c_d_e_f_g_h.txt");
    expect(safeFileName("CON")).toBe("_CON");
    expect(safeFileName("nul.txt")).toBe("_nul.txt");
    expect(safeFileName("console.txt")).toBe("console.txt");
  });

  it("falls back to 'file' and caps the length in UTF-8 bytes", () => {
    expect(safeFileName("\u0001\u0002")).toBe("file");
    const long = safeFileName("é".repeat(300));
    expect(new TextEncoder().encode(long).length).toBeLessThanOrEqual(200);
    expect(long).toBe("é".repeat(100));
  });
});

describe("numberedName", () => {
  it("numbers before the extension", () => {
    expect(numberedName("a.txt", 0)).toBe("a.txt");
    expect(numberedName("a.txt", 1)).toBe("a (1).txt");
    expect(numberedName("archive.tar.gz", 2)).toBe("archive (2).tar.gz");
    expect(numberedName("README", 3)).toBe("README (3)");
    expect(numberedName("bashrc", 1)).toBe("bashrc (1)");
  });
});
