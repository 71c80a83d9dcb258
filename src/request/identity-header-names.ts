/**
 * Whether a request header name reads as one of Verdict's identity headers (`x-verdict-*`)
 * or a `tailscale-*` header (`Tailscale-User-*`, `-App-Capabilities`, `-Funnel-Request`,
 * `-Headers-Info`, …) once lower-cased with `_` read as `-`: CGI, PHP, WSGI and Rack turn
 * `X_Verdict_User` and `x-verdict-user` into the same variable, so an upstream trusting one
 * is fooled by the other. Such headers from a client are never passed upstream.
 */
export function isIdentityHeaderName(name: string): boolean {
  // Most names (:path, accept, authorization…) are told apart by their first character: an
  // ASCII one other than x or t cannot start either prefix once lower-cased. Anything else
  // (non-ASCII first: lower-casing may fold it) takes the full test.
  const c = name.charCodeAt(0);
  if (c < 0x80 && c !== 0x78 && c !== 0x58 && c !== 0x74 && c !== 0x54) return false;
  const n = name.toLowerCase().replaceAll('_', '-');
  return n.startsWith('x-verdict-') || n.startsWith('tailscale-');
}

/**
 * The identity headers the documented forward-auth configs (nginx, Caddy, Traefik) set or
 * clear by name: Verdict's own and the ones `tailscale serve` adds. Any other name that
 * reads as an identity header cannot be stripped by every such proxy.
 */
export const PROXY_CLEARED_HEADERS: ReadonlySet<string> = new Set([
  'x-verdict-user',
  'x-verdict-email',
  'x-verdict-groups',
  'x-verdict-decision-id',
  'x-verdict-jwt-assertion',
  'tailscale-user-login',
  'tailscale-user-name',
  'tailscale-user-profile-pic',
  'tailscale-app-capabilities',
  'tailscale-funnel-request',
  'tailscale-headers-info',
]);
