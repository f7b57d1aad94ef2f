/**
 * How every presenter marks a person's presence in a list: the line UI's /users and /friends,
 * and the terminal UI's contacts pane and answers. One glyph per state, one column each.
 */

import type { PresenceStatus } from "../protocol/control.js";

export const PRESENCE_MARK: Readonly<Record<PresenceStatus, string>> = {
  online: "●",
  away: "◐",
  offline: "○",
};

/** The mark of a known presence; `·` when nobody has said yet. */
export function presenceMark(status: PresenceStatus | undefined): string {
  return status === undefined ? "·" : PRESENCE_MARK[status];
}
