/** A UDP address: an IP literal (or, for a registry the user named, a host name) and a port. */
export interface Address {
  host: string;
  port: number;
}
