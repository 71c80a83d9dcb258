import { normalizeHost } from '../policy/host-pattern.js';

// Registered names, IPv4, and bracketed IPv6; underscores occur in internal names.
const HOST_OK = /^(?:[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?|\[[0-9a-f:.]+\])$/;

/** Normalized host, or undefined when it cannot be a host name (user info, slashes, spaces). */
export function normalizeRequestHost(raw: string): string | undefined {
  if (raw === '') return '';
  const h = normalizeHost(raw);
  return HOST_OK.test(h) ? h : undefined;
}
