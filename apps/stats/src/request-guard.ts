/**
 * What keeps a browser from being used against the stats app: a page
 * elsewhere (CSRF) or a hostname of an attacker's that resolves to the stats
 * host (DNS rebinding) can make a browser on an operator's machine send
 * requests whose answers, or effects, it should never have.
 *
 * - Host: every state-changing request (any method but GET, HEAD, OPTIONS)
 *   and every request under /admin must name an allowed host: the loopback
 *   names, STATS_HOST when it is a concrete address, and STATS_ALLOWED_HOSTS.
 *   A rebound name is none of them.
 * - Origin: a state-changing request whose Origin header is present must come
 *   from the Host it is sent to (scheme aside: a TLS proxy may be in front),
 *   or from a host listed in STATS_ALLOWED_HOSTS (a proxy that rewrites Host).
 * - Content-Type: a state-changing request with a body must be
 *   application/json; text/plain and form bodies are what a cross-site page
 *   can send without a CORS preflight. bull-board's UI sends JSON (axios), and
 *   no Content-Type when it sends no body.
 * - Body: at most MAX_STATE_CHANGE_BODY_BYTES (413).
 * - Percent-encoding: a URL that does not decode is a 400 before any route
 *   sees it (decodeURIComponent would throw in a handler: a 500).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';

/** Methods that change nothing: everything else is state-changing. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];
/** Addresses that mean "every interface": not a name a client sends. */
const WILDCARD_ADDRESSES = new Set(['', '0.0.0.0', '::', '[::]']);
/** The largest body of a state-changing request: the queue board's JSON is a few KiB. */
export const MAX_STATE_CHANGE_BODY_BYTES = 64 * 1024;

export interface RequestGuardOptions {
  /** STATS_HOST: allowed as a Host when it is a concrete address or name. */
  readonly listenHost: string;
  /** STATS_ALLOWED_HOSTS: further Host names (any port) or `name:port`, also accepted as Origin hosts. */
  readonly allowedHosts: readonly string[];
}

export function isStateChanging(method: string): boolean {
  return !SAFE_METHODS.has(method.toUpperCase());
}

/** `host[:port]` as URL parses it (lower case, IPv6 in brackets, default port dropped); undefined when it does not parse. */
function parseHost(value: string): { hostname: string; host: string } | undefined {
  if (value === '' || /[/?#@\s\\]/.test(value)) return undefined;
  try {
    const url = new URL(`http://${value}`);
    return { hostname: url.hostname, host: url.host };
  } catch {
    return undefined;
  }
}

/** The guards, in the order they run; the app mounts them before every route. */
export function requestGuards(options: RequestGuardOptions): MiddlewareHandler[] {
  const listen = options.listenHost.includes(':') && !options.listenHost.startsWith('[') ? `[${options.listenHost}]` : options.listenHost;
  const entries = [...LOOPBACK_HOSTS, ...(WILDCARD_ADDRESSES.has(listen) ? [] : [listen]), ...options.allowedHosts]
    .map(parseHost)
    .filter((entry) => entry !== undefined);
  // An entry with a port allows that port only; one without, any port of that name.
  const hostAllowed = (requested: { hostname: string; host: string }): boolean =>
    entries.some((entry) => (entry.host === entry.hostname ? entry.hostname === requested.hostname : entry.host === requested.host));
  const originHosts = new Set(options.allowedHosts.map(parseHost).map((entry) => entry?.host));

  const refuse = (c: Context, status: 400 | 403 | 413 | 415, error: string) => c.json({ error }, status);
  const requestHost = (c: Context): string => c.req.header('host') ?? new URL(c.req.url).host;

  const encoding: MiddlewareHandler = async (c, next) => {
    const url = c.req.url;
    const pathAndQuery = url.slice(url.indexOf('/', url.indexOf('//') + 2));
    try {
      decodeURIComponent(pathAndQuery);
    } catch {
      return refuse(c, 400, 'the URL has a malformed percent-encoding');
    }
    await next();
    return undefined;
  };

  const host: MiddlewareHandler = async (c, next) => {
    const guarded = isStateChanging(c.req.method) || c.req.path === '/admin' || c.req.path.startsWith('/admin/');
    if (guarded) {
      const requested = parseHost(requestHost(c));
      if (requested === undefined || !hostAllowed(requested)) {
        return refuse(c, 403, `Host ${requestHost(c)} is not allowed here: add it to STATS_ALLOWED_HOSTS if this is how operators reach the stats app`);
      }
    }
    await next();
    return undefined;
  };

  const origin: MiddlewareHandler = async (c, next) => {
    const sent = isStateChanging(c.req.method) ? c.req.header('origin') : undefined;
    if (sent !== undefined) {
      const requested = parseHost(requestHost(c));
      let from: string | undefined;
      try {
        from = sent === 'null' ? undefined : new URL(sent).host;
      } catch {
        from = undefined;
      }
      if (from === undefined || (from !== requested?.host && !originHosts.has(from))) {
        return refuse(c, 403, `a state-changing request from Origin ${sent} to ${requestHost(c)} is refused: only pages of the stats app itself may send one`);
      }
    }
    await next();
    return undefined;
  };

  const contentType: MiddlewareHandler = async (c, next) => {
    if (isStateChanging(c.req.method)) {
      const type = c.req.header('content-type');
      const length = c.req.header('content-length');
      // As HTTP/1.1 frames requests (RFC 9112 6.3): without either header there is no body.
      const hasBody = c.req.header('transfer-encoding') !== undefined || (length !== undefined && length.trim() !== '0');
      const mediaType = type?.split(';')[0]?.trim().toLowerCase();
      if ((type !== undefined || hasBody) && mediaType !== 'application/json') {
        return refuse(c, 415, `a state-changing request must send its body as application/json, not ${type ?? 'without a Content-Type'}`);
      }
    }
    await next();
    return undefined;
  };

  const limit = bodyLimit({
    maxSize: MAX_STATE_CHANGE_BODY_BYTES,
    onError: (c) => refuse(c, 413, `the body is larger than ${MAX_STATE_CHANGE_BODY_BYTES} bytes`),
  });
  const body: MiddlewareHandler = async (c, next) => (isStateChanging(c.req.method) ? limit(c, next) : next());

  return [encoding, host, origin, contentType, body];
}
