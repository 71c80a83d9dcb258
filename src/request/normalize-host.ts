import { normalizeHost } from '../policy/host-pattern.js';

// Registered names, IPv4, and bracketed IPv6; underscores occur in internal names.
const HOST_OK = /^(?:[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?|\[[0-9a-f:.]+\])$/;

/** Normalized host, or undefined when it cannot be a host name (user info, slashes, spaces). */
export function normalizeRequestHost(raw: string): string | undefined {
  if (raw === '') return '';
  // Checked before lower-casing: toLowerCase folds some non-ASCII letters into ASCII (the Kelvin
  // sign K becomes k), so `\u212Aibana.example.com` passed as kibana.example.com, a name Envoy and
  // the upstream never saw. Host names on the wire are ASCII (IDNs travel as xn--).
  if (!/^[\x20-\x7e]*$/.test(raw)) return undefined;
  const h = normalizeHost(raw);
  return HOST_OK.test(h) ? h : undefined;
}
