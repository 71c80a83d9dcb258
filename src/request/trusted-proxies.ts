import ipaddr from 'ipaddr.js';

export type TrustCheck = (ip: string | undefined) => boolean;

/**
 * Compiles `http.trusted_proxies` once. Returns the index of the first entry that is not
 * an IP or CIDR as a string message, so config loading can point at it.
 */
export function compileTrustedProxies(entries: readonly string[]): TrustCheck | { index: number; message: string } {
  const ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    try {
      if (e.includes('/')) ranges.push(ipaddr.parseCIDR(e));
      else {
        const a = ipaddr.process(e);
        ranges.push([a, a.kind() === 'ipv4' ? 32 : 128]);
      }
    } catch {
      return { index: i, message: `not an IP address or CIDR: ${JSON.stringify(e)}` };
    }
  }
  return (ip) => {
    if (ip === undefined || !ipaddr.isValid(ip)) return false;
    const a = ipaddr.process(ip);
    return ranges.some(([net, bits]) => net.kind() === a.kind() && a.match(net as never, bits));
  };
}
