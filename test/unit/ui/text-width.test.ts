import { afterEach, describe, expect, it } from "vitest";
import { rulesFromProbe } from "../../../src/ui/tui/render.js";
import {
  cells,
  fitColumns,
  sanitize,
  stringWidth,
  takeColumns,
  UNICODE_WIDTH_RULES,
  useWidthRules,
  wrap,
} from "../../../src/ui/tui/text-width.js";

const FAMILY = "\u{1f468}\u200d\u{1f469}\u200d\u{1f467}";

afterEach(() => useWidthRules(UNICODE_WIDTH_RULES));

describe("terminal column widths", () => {
  it("counts CJK, Hangul, fullwidth forms and emoji as two columns", () => {
    expect(stringWidth("abc")).toBe(3);
    expect(stringWidth("你好")).toBe(4);
    expect(stringWidth("한국어")).toBe(6);
    expect(stringWidth("ＡＢ")).toBe(4);
    expect(stringWidth("🎉")).toBe(2);
    expect(stringWidth("ok👍")).toBe(4);
  });

  it("counts combining marks and joiners as none; by Unicode's rules VS16, ZWJ sequences and skin tones make one wide glyph", () => {
    expect(stringWidth("e\u0301")).toBe(1);
    expect(stringWidth("a\u200Bb")).toBe(2);
    expect(stringWidth("👍🏽")).toBe(2);
    expect(stringWidth("❤\uFE0F")).toBe(2);
    expect(stringWidth("❤")).toBe(1);
    expect(stringWidth(FAMILY)).toBe(2);
    // Text-presentation pictographs stay narrow without VS16.
    expect(stringWidth("\u{1f3f3}")).toBe(1);
    expect(stringWidth("\u{1f3f3}\ufe0f")).toBe(2);
  });

  it("follows the rules a terminal was measured to draw by (tmux 3.3: VS16 narrow, skin tones apart)", () => {
    useWidthRules(rulesFromProbe([2, 1, 4]));
    expect(stringWidth(FAMILY)).toBe(2);
    expect(stringWidth("❤\uFE0F")).toBe(1);
    expect(stringWidth("👍🏽")).toBe(4);
    expect(stringWidth("\u{1f3f3}\ufe0f\u200d\u{1f308}")).toBe(1);
    useWidthRules(rulesFromProbe([6, 2, 2]));
    expect(stringWidth(FAMILY)).toBe(6);
    // No answer: Unicode's rules.
    expect(rulesFromProbe([undefined, undefined, undefined])).toEqual(UNICODE_WIDTH_RULES);
  });

  it("lays a row out in cells: a wide cluster in its first column, nothing in the next", () => {
    expect(cells(`a你${FAMILY}🍜b`)).toEqual(["a", "你", "", FAMILY, "", "🍜", "", "b"]);
    expect(takeColumns(`ab${FAMILY}`, 3)).toBe("ab");
  });

  it("cuts and pads to exact columns without splitting a wide character", () => {
    expect(takeColumns("你好吗", 5)).toBe("你好");
    expect(fitColumns("你好吗", 5)).toBe("你好 ");
    expect(stringWidth(fitColumns("🎉🎉🎉", 5))).toBe(5);
    expect(fitColumns("abc", 1)).toBe("a");
  });

  it("makes control characters visible instead of passing them to the terminal", () => {
    expect(sanitize("a\u001b[31mb\u0007\tc")).toBe("a\uFFFD[31mb\uFFFD    c");
    expect(sanitize("one\r\ntwo\rthree\nfour", true)).toBe("one\ntwo\nthree\nfour");
    expect(sanitize("one\ntwo")).toBe("one\uFFFDtwo");
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
