import type { Context } from 'hono';

/**
 * The client's address: the first X-Forwarded-For hop behind a trusted proxy
 * (TRUST_PROXY), else the socket's peer address.
 */
export function clientAddress(c: Context, trustProxy: boolean, remoteAddress: (c: Context) => string | undefined): string | undefined {
  if (trustProxy) {
    const first = c.req.header('x-forwarded-for')?.split(',')[0]?.trim();
    if (first) return first;
  }
  return remoteAddress(c);
}
