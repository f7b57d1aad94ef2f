/** The part of the `stun` package (a third-party STUN client, no bundled types) the tests use. */
declare module "stun" {
  import type { Socket } from "node:dgram";

  export interface StunResponse {
    getXorAddress(): { address: string; port: number; family: string } | undefined;
    getAttribute(type: number): unknown;
  }

  export interface StunRequest {
    addSoftware(text: string): StunRequest;
    addFingerprint(): StunRequest;
    toBuffer(): Buffer;
  }

  export const constants: { STUN_BINDING_REQUEST: number };

  export function createMessage(type: number): StunRequest;

  export function request(
    url: string,
    options?: { socket?: Socket; retries?: number; timeout?: number; message?: StunRequest },
  ): Promise<StunResponse>;
}
