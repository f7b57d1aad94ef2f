/**
 * A line that says where it goes: `@name text` to a person, `#group text` to a group. Simple
 * mode in the terminal UI and line mode take it, so an answer needs no conversation open.
 */

export interface AddressedLine {
  kind: "user" | "group";
  name: string;
  text: string;
}

/** `@name text` or `#group text` (a space after the name, some text after it), else undefined. */
export function parseAddressed(line: string): AddressedLine | undefined {
  const match = /^([@#])(\S+)\s+(\S[\s\S]*)$/.exec(line);
  if (!match) return undefined;
  const [, sigil, name, text] = match;
  return {
    kind: sigil === "#" ? "group" : "user",
    name: (name as string).toLowerCase(),
    text: text as string,
  };
}
