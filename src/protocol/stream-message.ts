/**
 * What a peer sends another on stream 0: a control message (`control.ts`: chat, receipts) or
 * a file-transfer control message (`file-control.ts`). One decoder for both: the bytes are
 * parsed once, and the `t` field picks the schema that validates them. Total, like every
 * decoder: any bytes become one of the two or a typed error.
 */

import { type Decoded, fail, ok } from "../errors.js";
import { type Control, control } from "./control.js";
import { type FileControl, fileControl, isFileControlType } from "./file-control.js";
import { MAX_MESSAGE_BYTES } from "./limits.js";

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

export type StreamMessage =
  | { kind: "control"; msg: Control }
  | { kind: "file"; msg: FileControl }
  /**
   * A `file.offer` with a good id whose other fields fail (a name that is a path, a bad
   * size): the receiver refuses it by id, so that both sides hear of it instead of the offer
   * vanishing. `name` and `size` are what could be read, for the receiver's event only.
   */
  | { kind: "bad-offer"; id: string; name: string; size: number; detail: string };

const OFFER_ID = /^[A-Za-z0-9_-]{8,64}$/;

export function decodeStreamMessage(bytes: Uint8Array): Decoded<StreamMessage> {
  if (bytes.length > MAX_MESSAGE_BYTES) return fail("WIRE_TOO_LARGE", `message of ${bytes.length} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(utf8Decoder.decode(bytes));
  } catch {
    return fail("PROTO_BAD_MESSAGE", "message is not UTF-8 JSON");
  }
  const t = typeof raw === "object" && raw !== null ? (raw as { t?: unknown }).t : undefined;
  const parsed = isFileControlType(t) ? fileControl.safeParse(raw) : control.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const detail = `${issue?.path.join(".") || "message"}: ${issue?.message ?? "invalid"}`;
    const r = raw as { id?: unknown; name?: unknown; size?: unknown };
    if (t === "file.offer" && typeof r.id === "string" && OFFER_ID.test(r.id)) {
      const name = typeof r.name === "string" ? r.name.slice(0, 255) : "";
      const size = typeof r.size === "number" && Number.isSafeInteger(r.size) && r.size >= 0 ? r.size : 0;
      return ok({ kind: "bad-offer", id: r.id, name, size, detail });
    }
    return fail("PROTO_BAD_MESSAGE", detail);
  }
  return ok(
    isFileControlType(t)
      ? { kind: "file", msg: parsed.data as FileControl }
      : { kind: "control", msg: parsed.data as Control },
  );
}

/** A file-transfer control message alone: anything else is a PROTO_BAD_MESSAGE. */
export function decodeFileControl(bytes: Uint8Array): Decoded<FileControl> {
  const decoded = decodeStreamMessage(bytes);
  if (!decoded.ok) return decoded;
  if (decoded.value.kind !== "file") return fail("PROTO_BAD_MESSAGE", "not a file-transfer message");
  return ok(decoded.value.msg);
}
