import { normalizeHost } from '../policy/host-pattern.js';

// Registered names, IPv4, and bracketed IPv6; underscores occur in internal names.
const HOST_OK = /^(?:[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?|\[[0-9a-f:.]+\])$/;
// The whole value: a name or bracketed literal, then at most a port of digits (RFC 3986 host [":" port]).
const AUTHORITY = /^(?:\[[^\]]*\]|[^:[\]]*)(?::[0-9]*)?$/;

/** Normalized host, or undefined when it cannot be a host name (user info, slashes, spaces). */
export function normalizeRequestHost(raw: string): string | undefined {
  if (raw === '') return '';
  // Checked before lower-casing: toLowerCase folds some non-ASCII letters into ASCII (the Kelvin
  // sign K becomes k), so `\u212Aibana.example.com` passed as kibana.example.com, a name Envoy and
  // the upstream never saw. Host names on the wire are ASCII (IDNs travel as xn--).
  if (!/^[\x20-\x7e]*$/.test(raw)) return undefined;
  // Only the port may follow the name: `public.example.com:@admin.example.com` or `a:80:90` was
  // read as the name before the first colon while the upstream got (and may use) the rest.
  if (!AUTHORITY.test(raw.trim())) return undefined;
  const h = normalizeHost(raw);
  return HOST_OK.test(h) ? h : undefined;
}
