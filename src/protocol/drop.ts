/**
 * The registry's drop box on the wire (docs/protocol.md, "Drop box"): a file for a group,
 * or for someone who is offline, is uploaded to the registry and downloaded from it with
 * the ordinary file transfer (`file-control.ts`) on the client's registry session; these
 * requests and the one push say which file, for whom, and who still waits for it.
 *
 * ```
 *  sender                        registry                         recipient
 *    ── drop.put {to,name,size,sha256} ─►  (quota, retention)
 *    ◄─ ok {id, stored}
 *    ══ file.offer … file.done ════════►  blob/<sha256>
 *                                      ── drop.notify {drops} ───►  (now, or at login)
 *                                      ◄─ drop.fetch {id} ────────
 *                                      ── ok {transfer} ─────────►
 *                                      ══ file.offer … file.done ►
 * ```
 *
 * A group's members who are online may take the file peer to peer from the sender meanwhile
 * (on a LAN that path starts at once, and is not slowed by the upload); such a member says
 * `drop.got` when it has the file, and the registry stops waiting for them.
 *
 * `stored: true` answers a `drop.put` whose content the registry already holds: nothing is
 * uploaded. Ids are 24 hex digits; the commands that name one (`drop.cancel`,
 * `drop.decline`) take its start too (at least 4 digits, naming one drop only).
 */

import { z } from "zod";
import { fileName } from "./file-control.js";

/** Groups are written `#name` where a person's name would go. */
export const GROUP_PREFIX = "#";
/** Drops one `drop.notify` or one list of `drop.list` carries at most. */
export const MAX_DROPS_LISTED = 500;

const name = z.string().min(1).max(64);
const target = z.string().min(1).max(65);
const time = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const size = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
export const dropId = z.string().regex(/^[0-9a-f]{24}$/);
/** A drop id or its start, as people type it. */
export const dropRef = z.string().regex(/^[0-9a-f]{4,24}$/);

/** One file in the drop box as a sender or a recipient sees it. */
export const dropInfo = z.object({
  id: dropId,
  from: name,
  /** A user, or `#group`. */
  to: target,
  name: fileName,
  size,
  sha256,
  at: time,
  state: z.enum(["uploading", "stored"]),
  /** The sender's view: who has not taken it yet. */
  waiting: z.array(name).max(10_000).optional(),
});
export type DropInfo = z.infer<typeof dropInfo>;

export const dropRequests = [
  z.object({
    t: z.literal("drop.put"),
    rid: z.number().int().min(0),
    to: target,
    name: fileName,
    size,
    sha256,
  }),
  z.object({ t: z.literal("drop.fetch"), rid: z.number().int().min(0), id: dropId }),
  z.object({ t: z.literal("drop.list"), rid: z.number().int().min(0) }),
  z.object({ t: z.literal("drop.cancel"), rid: z.number().int().min(0), id: dropRef }),
  z.object({ t: z.literal("drop.decline"), rid: z.number().int().min(0), id: dropRef }),
  /** The recipient has the file already (peer to peer from the sender): it waits no more. */
  z.object({ t: z.literal("drop.got"), rid: z.number().int().min(0), id: dropId }),
] as const;

export const dropPushes = [
  z.object({ t: z.literal("drop.notify"), drops: z.array(dropInfo).max(MAX_DROPS_LISTED) }),
] as const;

/** Answers' `data`. */
export const dropPutData = z.object({ id: dropId, stored: z.boolean() });
export const dropFetchData = z.object({ transfer: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/) });
export const dropListData = z.object({
  sent: z.array(dropInfo).max(MAX_DROPS_LISTED),
  received: z.array(dropInfo).max(MAX_DROPS_LISTED),
});
export type DropListData = z.infer<typeof dropListData>;
