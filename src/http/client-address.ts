import { BlockList, isIP, isIPv6 } from "node:net";

/**
 * The caller's address for rate limits and the security log: the peer of the HTTP
 * connection, which a client cannot choose freely. X-Forwarded-For is read only when that
 * peer is one of TRUSTED_PROXIES (a load balancer of ours): then the address is the
 * right-most entry that is not itself a trusted proxy (entries further left are whatever the
 * client wrote). With no trusted proxies the header is never read.
 *
 * An IPv6 client controls its whole /64, so a v6 address counts as its /64; an IPv4 address
 * mapped into v6 (`::ffff:1.2.3.4`) counts as the IPv4 address.
 */
export function clientAddressOf(serverContext: Record<string, unknown>, forwardedFor: string | null, trusted: BlockList | undefined): string | undefined {
  const peer = normalize((serverContext.req as { socket?: { remoteAddress?: string } } | undefined)?.socket?.remoteAddress);
  if (!peer || !trusted || !isTrusted(trusted, peer)) return peer && bucketOf(peer);
  const hops = (forwardedFor ?? "").split(",").map((hop) => normalize(hop.trim())).filter((hop): hop is string => Boolean(hop && isIP(hop)));
  let address = peer;
  while (isTrusted(trusted, address) && hops.length > 0) address = hops.pop()!;
  return bucketOf(address);
}

/** The BlockList of TRUSTED_PROXIES (config.ts has checked each entry). */
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

function normalize(address: string | undefined): string | undefined {
  if (!address) return undefined;
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] ?? address;
}

const bucketOf = (address: string) => (isIPv6(address) ? `${expandIPv6(address).slice(0, 4).join(":")}::/64` : address);

function expandIPv6(address: string): string[] {
  const [head = "", tail = ""] = address.split("%")[0]!.split("::");
  const left = head ? head.split(":") : [];
  const right = address.includes("::") && tail ? tail.split(":") : [];
  const groups = address.includes("::") ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right] : left;
  return groups.map((g) => g.toLowerCase().replace(/^0+(?=.)/, ""));
}
