import { isIPv6 } from "node:net";

/**
 * The caller's address for rate limits and the security log: the peer of the HTTP
 * connection, which a client cannot choose freely. Forwarded headers (X-Forwarded-For) are
 * never read: anyone can write them. Behind a load balancer every caller then shares its
 * address: deploy with the balancer passing the connection through (or extend this with a
 * list of trusted proxies) before relying on per-address limits there.
 *
 * An IPv6 client controls its whole /64, so a v6 address counts as its /64; an IPv4 address
 * mapped into v6 (`::ffff:1.2.3.4`) counts as the IPv4 address.
 */
export function clientAddressOf(serverContext: Record<string, unknown>): string | undefined {
  const socket = (serverContext.req as { socket?: { remoteAddress?: string } } | undefined)?.socket;
  const address = socket?.remoteAddress;
  if (!address) return undefined;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  return isIPv6(address) ? `${expandIPv6(address).slice(0, 4).join(":")}::/64` : address;
}

function expandIPv6(address: string): string[] {
  const [head = "", tail = ""] = address.split("%")[0]!.split("::");
  const left = head ? head.split(":") : [];
  const right = address.includes("::") && tail ? tail.split(":") : [];
  const groups = address.includes("::") ? [...left, ...Array(8 - left.length - right.length).fill("0"), ...right] : left;
  return groups.map((g) => g.toLowerCase().replace(/^0+(?=.)/, ""));
}
