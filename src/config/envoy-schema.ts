import { DURATION_PATTERN } from '../duration.js';

const HOST_PORT = '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$';
const duration = (d?: string) => (d === undefined ? { type: 'string', pattern: DURATION_PATTERN } : { type: 'string', pattern: DURATION_PATTERN, default: d });
const file = { type: 'string', minLength: 1 };
const count = (d?: number) => (d === undefined ? { type: 'integer', minimum: 1, maximum: 1_000_000 } : { type: 'integer', minimum: 1, maximum: 1_000_000, default: d });

/** Debian/Ubuntu's bundle, also in the envoyproxy/envoy image (Ubuntu). */
export const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * How Envoy talks to an upstream. `withDefaults`: the `envoy.upstream` block (every key
 * has a default); without: an `envoy.upstreams[]` entry, whose unset keys come from
 * `envoy.upstream`.
 */
function upstreamProperties(withDefaults: boolean): Record<string, unknown> {
  const d = <T>(v: T): T | undefined => (withDefaults ? v : undefined);
  return {
    connect_timeout: duration(d('2s')),
    timeout: duration(d('15s')),
    max_connections: count(d(1024)),
    max_pending_requests: count(d(1024)),
    max_requests: count(d(1024)),
    max_retries: { type: 'integer', minimum: 0, maximum: 1_000_000, ...(withDefaults ? { default: 3 } : {}) },
    ca_file: withDefaults ? { ...file, default: SYSTEM_CA_BUNDLE } : file,
    sni: { type: 'string', pattern: '^[A-Za-z0-9.-]+$' },
    health_check: {
      type: 'object',
      additionalProperties: false,
      required: ['path'],
      properties: {
        path: { type: 'string', pattern: '^/[^?#\\s]*$' },
        interval: duration('10s'),
        timeout: duration('2s'),
        unhealthy_threshold: { type: 'integer', minimum: 1, maximum: 100, default: 3 },
        healthy_threshold: { type: 'integer', minimum: 1, maximum: 100, default: 2 },
      },
    },
  };
}

/** `envoy`: what `verdict envoy-config` puts in the bootstrap besides the policy routes. */
export function envoySchema(): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      verdict_address: { type: 'string', pattern: HOST_PORT, default: 'verdict:9191' },
      listen: { type: 'string', pattern: HOST_PORT, default: '0.0.0.0:8080' },
      admin_listen: { type: 'string', pattern: HOST_PORT, default: '127.0.0.1:9901' },
      authz_timeout: duration('3s'),
      tls: {
        type: 'object',
        additionalProperties: false,
        required: ['cert_file', 'key_file'],
        properties: {
          cert_file: file,
          key_file: file,
          listen: { type: 'string', pattern: HOST_PORT, default: '0.0.0.0:8443' },
          redirect_http: { type: 'boolean', default: true },
          redirect_port: { type: 'integer', minimum: 1, maximum: 65535 },
        },
      },
      verdict_tls: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ca_file: { ...file, default: SYSTEM_CA_BUNDLE },
          sni: { type: 'string', pattern: '^[A-Za-z0-9.-]+$' },
          cert_file: file,
          key_file: file,
        },
        dependentRequired: { cert_file: ['key_file'], key_file: ['cert_file'] },
      },
      access_log: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          path: { ...file, default: '/dev/stdout' },
          include_query: { type: 'boolean', default: false },
        },
      },
      upstream: { type: 'object', additionalProperties: false, default: {}, properties: upstreamProperties(true) },
      upstreams: {
        type: 'array',
        default: [],
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['to'],
          properties: { to: { type: 'string', pattern: '^https?://' }, ...upstreamProperties(false) },
        },
      },
    },
  };
}
