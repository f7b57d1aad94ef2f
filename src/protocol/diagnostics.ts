/**
 * Diagnostics through `node:diagnostics_channel` (as undici does): the cores publish what
 * their counters count as it happens, and a subscriber (a test, a monitoring hook, a
 * debugger) sees it without any wiring. Nothing is built or published while nobody listens:
 * every publisher checks `hasSubscribers` first, one property read.
 *
 *   hallway:endpoint  every datagram the session table counts: `EndpointDiagnostic`
 *                     (protocol/endpoint.ts)
 *   hallway:channel   what changed in a reliable channel's counters, after each input or
 *                     output that changed them: `ChannelDiagnostic` (transport/reliable-channel.ts)
 *   hallway:relay     every envelope the registry's relay forwards or drops: `RelayDiagnostic`
 *                     (server/relay.ts)
 *
 * The message types live with their publishers; this file only names the channels.
 */

import { channel } from "node:diagnostics_channel";

export const DIAGNOSTICS_CHANNELS = {
  endpoint: "hallway:endpoint",
  channel: "hallway:channel",
  relay: "hallway:relay",
} as const;

export const endpointDiagnostics = channel(DIAGNOSTICS_CHANNELS.endpoint);
export const channelDiagnostics = channel(DIAGNOSTICS_CHANNELS.channel);
export const relayDiagnostics = channel(DIAGNOSTICS_CHANNELS.relay);
