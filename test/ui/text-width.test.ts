import { describe, expect, it } from "vitest";
import { fitColumns, sanitize, stringWidth, takeColumns, wrap } from "../../src/ui/tui/text-width.js";

describe("terminal column widths", () => {
  it("counts CJK, Hangul, fullwidth forms and emoji as two columns", () => {
    expect(stringWidth("abc")).toBe(3);
    expect(stringWidth("你好")).toBe(4);
    expect(stringWidth("한국어")).toBe(6);
    expect(stringWidth("ＡＢ")).toBe(4);
    expect(stringWidth("🎉")).toBe(2);
    expect(stringWidth("ok👍")).toBe(4);
  });

  it("counts combining marks, joiners, variation selectors and skin tones as none", () => {
    expect(stringWidth("e\u0301")).toBe(1);
    expect(stringWidth("👍🏽")).toBe(2);
    expect(stringWidth("❤\uFE0F")).toBe(1);
    expect(stringWidth("a\u200Bb")).toBe(2);
  });

  it("cuts and pads to exact columns without splitting a wide character", () => {
    expect(takeColumns("你好吗", 5)).toBe("你好");
    expect(fitColumns("你好吗", 5)).toBe("你好 ");
    expect(stringWidth(fitColumns("🎉🎉🎉", 5))).toBe(5);
    expect(fitColumns("abc", 1)).toBe("a");
  });

  it("makes control characters visible instead of passing them to the terminal", () => {
    expect(sanitize("a\u001b[31mb\u0007\tc")).toBe("a\uFFFD[31mb\uFFFD    c");
  });
});

describe("wrapping", () => {
  it("breaks at spaces and indents continuation rows", () => {
    expect(wrap("the quick brown fox jumps", 10, "  ")).toEqual(["the quick", "  brown", "  fox", "  jumps"]);
  });

  it("breaks a word wider than a row inside the word", () => {
    expect(wrap("abcdefghij", 4)).toEqual(["abcd", "efgh", "ij"]);
  });

  it("never lets a row of wide characters exceed the width", () => {
    const rows = wrap("日本語のテキストと🎉絵文字が混ざった長い行です", 9, "");
    for (const row of rows) expect(stringWidth(row)).toBeLessThanOrEqual(9);
    expect(rows.join("")).toBe("日本語のテキストと🎉絵文字が混ざった長い行です");
  });

  it("keeps an empty line as one empty row", () => {
    expect(wrap("", 10)).toEqual([""]);
  });
});
