import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * IP addresses and CIDRs in one canonical text form, as the IP allowlists store them and as
 * SpiceDB's `ipaddress` caveat type parses them (it refuses anything else with an error, so
 * nothing reaches it unchecked). IPv4 is dotted decimal in four parts only (`net.isIP`: no
 * `10.1`, no octal); IPv6 is RFC 5952 text; an IPv4 address mapped into IPv6
 * (`::ffff:1.2.3.4`) is the IPv4 address, as a dual-stack socket reports IPv4 clients.
 */

/** The canonical address, or undefined when `text` is not one (a zone id such as `%eth0` is dropped). */
export function canonicalAddress(text: string | undefined | null): string | undefined {
  if (!text) return undefined;
  const address = text.trim().split("%")[0]!;
  if (!isIP(address)) return undefined;
  return ipaddr.process(address).toString();
}

/**
 * The canonical CIDR (network address / prefix length), or undefined when `text` is not one.
 * A bare address is its own /32 (IPv4) or /128 (IPv6); host bits are cleared
 * (`10.1.2.3/8` is `10.0.0.0/8`).
 */
export function canonicalCidr(text: string): string | undefined {
  const [address = "", bits, ...rest] = text.trim().split("/");
  const version = isIP(address);
  if (!version || rest.length > 0 || address.includes("%")) return undefined;
  const max = version === 4 ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return undefined;
  const length = bits === undefined ? max : Number(bits);
  if (length > max) return undefined;
  const network = version === 4 ? ipaddr.IPv4.networkAddressFromCIDR(`${address}/${length}`) : ipaddr.IPv6.networkAddressFromCIDR(`${address}/${length}`);
  return `${network.toString()}/${length}`;
}

/** Whether `address` (canonical) is inside one of `cidrs` (canonical): what the caveat decides, for the lock-out guard. */
export function addressInCidrs(address: string, cidrs: string[]): boolean {
  const parsed = ipaddr.parse(address);
  return cidrs.some((cidr) => {
    const [network, length] = ipaddr.parseCIDR(cidr);
    return network.kind() === parsed.kind() && parsed.match(network, length);
  });
}
