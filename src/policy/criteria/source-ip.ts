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

type Address = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * Recently parsed source addresses (null: not an address). Parsing one costs more than the
 * rest of a `source_ip` check, and a proxy's checks come from a limited set of peers; the
 * memo is bounded (emptied when full), and parsing is a pure function of the text.
 */
const parsed = new Map<string, Address | null>();
const PARSED_MAX = 4096;

/** Envoy reports IPv4 peers on dual-stack listeners as `::ffff:a.b.c.d`; compare as IPv4. */
export function parseSourceIp(text: string | undefined): Address | undefined {
  if (text === undefined) return undefined;
  let ip = parsed.get(text);
  if (ip === undefined) {
    ip = ipaddr.isValid(text) ? ipaddr.process(text) : null;
    if (parsed.size >= PARSED_MAX) parsed.clear();
    parsed.set(text, ip);
  }
  return ip ?? undefined;
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
