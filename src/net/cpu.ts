/**
 * Whether this CPU has AES instructions, which decides the transport cipher a peer offers
 * (protocol/endpoint.ts). With them AES-256-GCM seals a 64 KiB datagram in about 35 µs where
 * ChaCha20-Poly1305 takes 45–65 µs (measured on the benchmark machine, node:crypto with
 * OpenSSL); without them AES in software is the slower one. Linux says so in /proc/cpuinfo;
 * every Mac and every 64-bit Windows PC of the last decade has them (AES-NI, ARMv8 AES).
 */

import { readFileSync } from "node:fs";
import { arch, platform } from "node:os";

let cached: boolean | undefined;

export function cpuHasAes(): boolean {
  cached ??= detect();
  return cached;
}

function detect(): boolean {
  if (platform() === "linux") {
    try {
      const info = readFileSync("/proc/cpuinfo", "utf8");
      // x86: "flags : … aes …"; ARMv8: "Features : … aes …".
      return /^(flags|Features)\s*:.*\baes\b/m.test(info);
    } catch {
      return false;
    }
  }
  return (platform() === "darwin" || platform() === "win32") && (arch() === "x64" || arch() === "arm64");
}
