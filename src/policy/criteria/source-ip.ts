import ipaddr from 'ipaddr.js';
import { RuleCompileError, pointerJoin } from '../compile-error.js';
import type { Criterion } from './criterion.js';

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parses `10.1.2.3` or `100.64.0.0/10` (IPv6 alike); IPv4-mapped IPv6 becomes IPv4. */
function parseRange(text: string, pointer: string): Range {
  try {
    if (text.includes('/')) {
      const [addr, bits] = ipaddr.parseCIDR(text);
      return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96
        ? [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96]
        : [addr, bits];
    }
    const addr = ipaddr.process(text);
    return [addr, addr.kind() === 'ipv4' ? 32 : 128];
  } catch {
    throw new RuleCompileError(pointer, `not an IP address or CIDR: ${JSON.stringify(text)}`);
  }
}

/** Envoy reports IPv4 peers on dual-stack listeners as `::ffff:a.b.c.d`; compare as IPv4. */
export function parseSourceIp(text: string | undefined): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (text === undefined || !ipaddr.isValid(text)) return undefined;
  return ipaddr.process(text);
}

export const sourceIp: Criterion = {
  name: 'source_ip',
  needsIdentity: false,
  summary: "Envoy's source address is in one of the listed CIDRs or addresses",
  argumentSchema: {
    type: 'object',
    properties: { in: { type: 'array', items: { type: 'string' }, minItems: 1 } },
    required: ['in'],
    additionalProperties: false,
  },
  compile(arg, pointer) {
    const ranges = (arg as { in: string[] }).in.map((t, i) => parseRange(t, pointerJoin(pointerJoin(pointer, 'in'), i)));
    return (ctx) => {
      const ip = parseSourceIp(ctx.facts.sourceIp);
      if (ip === undefined) return false;
      const kind = ip.kind();
      for (const [net, bits] of ranges) {
        if (net.kind() === kind && ip.match(net as never, bits)) return true;
      }
      return false;
    };
  },
};
