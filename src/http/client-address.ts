import { BlockList, isIP, isIPv6 } from "node:net";
import { canonicalAddress } from "../ip-address.js";

/**
 * The caller's address: the peer of the HTTP connection, which a client cannot choose freely.
 * X-Forwarded-For is read only when that peer is one of the trusted proxies (TRUST_PROXY, or
 * its older name TRUSTED_PROXIES: a load balancer of ours): then the address is the
 * right-most entry that is not itself a trusted proxy (entries further left are whatever the
 * client wrote). With no trusted proxies the header is never read.
 *
 * `clientIpOf` is the exact address, canonical (ip-address.ts), for the IP allowlists.
 * `clientAddressOf` is the address as rate limits and the security log count it: an IPv6
 * client controls its whole /64, so a v6 address counts as its /64.
 */
export function clientIpOf(peerAddress: string | undefined, forwardedFor: string | null | undefined, trusted: BlockList | undefined): string | undefined {
  const peer = canonicalAddress(peerAddress);
  if (!peer || !trusted || !isTrusted(trusted, peer)) return peer;
  // Walked from the right as written: a hop that is not an address ends the walk with no address
  // (every allowlist then denies) — skipping it would let the entry the client wrote to its left decide.
  const hops = (forwardedFor ?? "").split(",").map((hop) => hop.trim()).filter((hop) => hop.length > 0);
  let address = peer;
  while (isTrusted(trusted, address) && hops.length > 0) {
    const hop = hopAddress(hops.pop()!);
    if (!hop) return undefined;
    address = hop;
  }
  return address;
}

/** An X-Forwarded-For entry's address: bare, or with the port some balancers append (`a.b.c.d:port`, `[v6]:port`). */
function hopAddress(hop: string): string | undefined {
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(hop);
  if (bracketed) return canonicalAddress(bracketed[1]);
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(hop);
  return canonicalAddress(v4WithPort ? v4WithPort[1] : hop);
}

/**
 * The address a gateway decision is made for (/v1/authorize, AuthZEN). `named` is the body's
 * `clientIp`: the gateway's word for its end client's address. It is believed only when the
 * request comes from a trusted host itself (TRUST_PROXY names the gateway; through a trusted
 * balancer, the forwarded address must be a trusted one too); anyone else who names
 * an address is refused, so a leaked key used from outside an allowlist cannot claim an inside
 * address, and a gateway that is not configured gets a clear error instead of decisions made
 * for its own address.
 */
export function decisionClientIp(named: string | undefined, peerAddress: string | undefined, forwardedFor: string | null | undefined, trusted: BlockList | undefined): string | undefined {
  const origin = clientIpOf(peerAddress, forwardedFor, trusted);
  if (named === undefined) return origin;
  // The request must come from a trusted host itself — every hop of the walk trusted — not
  // merely through one: a client behind a trusted load balancer resolves to its own address.
  if (!origin || !trusted || !isTrusted(trusted, origin)) throw new UntrustedClientIp();
  return named;
}

export class UntrustedClientIp extends Error {
  constructor() {
    super('"clientIp" is accepted only from a gateway named in TRUST_PROXY');
  }
}

/** The peer address of a request served by the Node listener (yoga's server context carries Node's `req`). */
export const peerOf = (serverContext: Record<string, unknown>): string | undefined =>
  (serverContext.req as { socket?: { remoteAddress?: string } } | undefined)?.socket?.remoteAddress;

export function clientAddressOf(serverContext: Record<string, unknown>, forwardedFor: string | null, trusted: BlockList | undefined): string | undefined {
  const address = clientIpOf(peerOf(serverContext), forwardedFor, trusted);
  return address && bucketOf(address);
}

/** The BlockList of the trusted proxies (config.ts has checked each entry). */
export function trustedProxyList(proxies: string[]): BlockList | undefined {
  if (proxies.length === 0) return undefined;
  const list = new BlockList();
  for (const proxy of proxies) {
    const [address = "", bits] = proxy.split("/");
    const type = isIP(address) === 6 ? "ipv6" : "ipv4";
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

const isTrusted = (trusted: BlockList, address: string) => trusted.check(address, isIPv6(address) ? "ipv6" : "ipv4");

const bucketOf = (address: string) => (isIPv6(address) ? `${expandIPv6(address).slice(0, 4).join(":")}::/64` : address);

function expandIPv6(address: string): string[] {
  const [head = "", tail = ""] = address.split("%")[0]!.split("::");
  const left = head ? head.split(":") : [];
  const right = address.includes("::") && tail ? tail.split(":") : [];
  const groups = address.includes("::") ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right] : left;
  return groups.map((g) => g.toLowerCase().replace(/^0+(?=.)/, ""));
}
