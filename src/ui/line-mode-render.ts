/**
 * What line mode prints: one line (or a few) per PeerEvent, with the time, presence marks,
 * transfer progress and the drop box in words; `say` writes a line to stdout.
 */

import type { LanPeerView, PeerEvent } from "../peer/index.js";
import { dropLine, dropsText } from "./drop-text.js";
import { presenceMark } from "./presence-mark.js";

export function clock(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 5);
}

export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function render(e: PeerEvent, me: string): string | undefined {
  switch (e.event) {
    case "message":
      return `[${clock(e.sentAt)}] ${e.from}${e.via === "offline" ? " (while you were away)" : ""}: ${e.text}`;
    case "delivered":
      return undefined;
    case "sent":
      return e.via === "offline" ? `  (${e.to} is away; the registry will deliver it)` : undefined;
    case "presence":
      return e.user === me ? undefined : `* ${e.user} is ${e.status}`;
    case "registry":
      return e.status === "lost"
        ? "* lost the registry; reconnecting…"
        : `* connected to ${e.address} (${e.fingerprint})`;
    case "ready":
      return `* logged in as ${e.user}. Type /help for commands.`;
    case "users":
      return e.users.map((u) => `  ${presenceMark(u.status)} ${u.name}`).join("\n");
    case "history":
      return (
        e.messages.map((m) => `  [${clock(m.sentAt)}] ${m.from}: ${m.text}`).join("\n") ||
        "  (no messages yet)"
      );
    case "error":
      return `! ${e.message}`;
    case "bye":
      return "* bye";
    case "friend.request":
      return `* ${e.from} asks to be your friend (/accept ${e.from} or /decline ${e.from})`;
    case "friend.accepted":
      return `* ${e.by} is now your friend`;
    case "friend.declined":
      return `* ${e.by} declined your friend request`;
    case "friend.removed":
      return `* ${e.by} removed you from their friends`;
    case "friends":
      return (
        [
          ...e.friends.map((f) => `  ${presenceMark(f.status)} ${f.name}`),
          ...e.incoming.map((r) => `  ? ${r.from} asks to be your friend`),
          ...e.outgoing.map((r) => `  … waiting for ${r.to}`),
        ].join("\n") || "  (no friends yet: /add NAME)"
      );
    case "group.joinRequest":
      return `* ${e.user} asks to join ${e.group} (/approve ${e.group} ${e.user})`;
    case "group.joined":
      return e.user === me ? `* you joined ${e.group}` : `* ${e.user} joined ${e.group}`;
    case "group.declined":
      return `* your request to join ${e.group} was declined`;
    case "group.removed":
      return `* ${e.by} removed you from ${e.group}`;
    case "group.admin":
      return `* you are now the admin of ${e.group}`;
    case "groupMessage":
      return `[${clock(e.sentAt)}] #${e.group} ${e.from}: ${e.text}`;
    case "groups":
      return (
        e.groups.map((g) => `  #${g.name} (${g.members.length}, admin ${g.admin})`).join("\n") ||
        "  (no groups)"
      );
    case "ok":
      if (e.cmd === "presence") return e.status === "away" ? "* you are away" : "* you are back";
      return e.cmd === "group.join" ? `  (asked the admin of ${e.group})` : undefined;
    case "drop":
      return `* ${dropLine(e.drop)}`;
    case "drops":
      return dropsText(e.sent, e.received);
    case "transfer":
      // Told by `FolderLines` in the chat loop (it keeps what a folder already said).
      return undefined;
    case "lan.mode":
      return e.lan
        ? "* LAN mode: no registry. You can chat and send files to people on this LAN (/lan lists them); messages to others wait until they appear or the registry is back"
        : "* the registry is back: LAN mode ends";
    case "lan.peer":
      if (e.state === "down") return `* ${e.user} left the LAN`;
      if (e.state === "changed" && !e.conflicting) return undefined;
      return `* ${lanText(e)}`;
    case "lan.peers":
      return [
        `  ${e.lan ? "LAN mode (no registry)" : "registry mode"}; ${e.announcing ? "announcing" : "not announcing"} this peer on the LAN`,
        ...e.peers.map((p) => `  ${lanText(p)}`),
        ...(e.peers.length === 0 ? ["  (nobody else on the LAN yet)"] : []),
      ].join("\n");
    case "queued":
      return `  (${e.to} is not on the LAN; the message waits until they appear)`;
  }
}

export function lanText(p: LanPeerView): string {
  const conflict = p.conflicting
    ? " CONFLICT: another device announces this name with another key; neither is trusted"
    : "";
  return `${p.user} is on the LAN at ${p.address} (${p.presence}, key ${p.fingerprint})${conflict}`;
}
