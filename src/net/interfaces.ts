/**
 * The machine's network interfaces, asked of the system each time (addresses come and go: a
 * laptop joins Wi-Fi, a VPN comes up). The traversal cores take the result as an argument
 * (`traversal/candidates.ts`); this adapter is what the composition passes them.
 */

import { networkInterfaces } from "node:os";
import { type LocalInterface, localInterfaces } from "../traversal/candidates.js";

/** Our usable interfaces right now: non-internal IPv4, then global and unique-local IPv6. */
export function systemInterfaces(): LocalInterface[] {
  return localInterfaces(networkInterfaces());
}
