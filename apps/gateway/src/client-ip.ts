import { isIP } from 'node:net';
import type { Context } from 'hono';

/**
 * The client's address. Behind `trustedHops` proxies of our own, each of
 * which appends the address it saw to X-Forwarded-For, the client is the
 * entry `trustedHops` from the right: everything left of it was written by
 * the client and proves nothing (a client rotating it must neither pass the
 * rate limit nor choose the stored address). With 0 hops, or when the
 * chosen entry is not an IP address, it is the socket's peer address.
 */
export function clientAddress(c: Context, trustedHops: number, remoteAddress: (c: Context) => string | undefined): string | undefined {
  const peer = remoteAddress(c);
  if (trustedHops === 0) return normalizeAddress(peer);
  return forwardedClient(c.req.header('x-forwarded-for'), trustedHops) ?? normalizeAddress(peer);
}

/**
 * The address `trustedHops` entries from the right of an X-Forwarded-For
 * value (several headers arrive joined by ", "), or the leftmost one when
 * there are fewer (as Express's `trust proxy` count does); undefined when
 * that entry does not parse as an IP address.
 */
export function forwardedClient(header: string | undefined, trustedHops: number): string | undefined {
  if (header === undefined || trustedHops < 1) return undefined;
  const hops = header.split(',').map((hop) => hop.trim()).filter((hop) => hop !== '');
  const chosen = hops[Math.max(0, hops.length - trustedHops)];
  return normalizeAddress(chosen);
}

/**
 * An address as an IP string, or undefined: a port and IPv6 brackets are
 * removed ("1.2.3.4:567", "[::1]:80"), an IPv4-mapped IPv6 address becomes
 * IPv4 (one client, one key), anything else that is not an IP is refused.
 */
export function normalizeAddress(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  let candidate = address.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(candidate);
  if (bracketed?.[1] !== undefined) candidate = bracketed[1];
  else if (/^[\d.]+:\d+$/.test(candidate)) candidate = candidate.slice(0, candidate.lastIndexOf(':'));
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(candidate);
  if (mapped?.[1] !== undefined) candidate = mapped[1];
  return isIP(candidate) === 0 ? undefined : candidate.toLowerCase();
}
