import { DURATION_PATTERN } from '../duration.js';
import { ASYMMETRIC_ALGORITHMS, DEFAULT_ALGORITHMS } from '../identity/jwt-issuer.js';
import { envoySchema } from './envoy-schema.js';

export const CONFIG_SCHEMA_ID = 'urn:verdict:schema:config:1';
const LISTEN = '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$';
const duration = (d: string) => ({ type: 'string', pattern: DURATION_PATTERN, default: d });

/**
 * The config file schema (JSON Schema 2020-12). Every default lives here and is
 * filled in by ajv; the README's config table mirrors this and a test checks it.
 */
export function configSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: CONFIG_SCHEMA_ID,
    title: 'Verdict configuration',
    type: 'object',
    additionalProperties: false,
    properties: {
      $schema: { type: 'string' },
      grpc: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          listen: { type: 'string', pattern: LISTEN, default: '0.0.0.0:9191' },
          // Envoy's request headers are capped at 60 KiB by default; 256 KiB leaves room for a
          // raised cap or a small buffered body, and bounds what one stream can make us hold.
          max_message_bytes: { type: 'integer', minimum: 4096, maximum: 16777216, default: 262144 },
          max_concurrent_streams: { type: 'integer', minimum: 1, maximum: 100000, default: 1000 },
          max_session_memory_mb: { type: 'integer', minimum: 1, maximum: 1024, default: 10 },
          tls: {
            type: 'object',
            additionalProperties: false,
            required: ['cert_file', 'key_file'],
            properties: {
              cert_file: { type: 'string', minLength: 1 },
              key_file: { type: 'string', minLength: 1 },
              client_ca_file: { type: 'string', minLength: 1 },
            },
          },
        },
      },
      http: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          listen: { type: 'string', pattern: LISTEN, default: '0.0.0.0:9292' },
          trusted_proxies: { type: 'array', items: { type: 'string' }, default: [] },
          check_timeout: duration('5s'),
        },
      },
      policies: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          dir: { type: 'string', minLength: 1, default: 'policies' },
          require_route_id: { type: 'boolean', default: false },
          watch: { type: 'boolean', default: true },
          allow_empty: { type: 'boolean', default: false },
          reload_debounce: duration('250ms'),
        },
      },
      audit: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          sink: { enum: ['stdout', 'file'], default: 'stdout' },
          path: { type: 'string', minLength: 1 },
          include_query: { type: 'boolean', default: false },
          mode: { enum: ['sync', 'async'] },
          durability: { enum: ['disk', 'os'] },
          max_delay: duration('100ms'),
          checkpoint_every: { type: 'integer', minimum: 1, default: 1000 },
          checkpoint_interval: duration('1m'),
          signing_key_file: { type: 'string', minLength: 1 },
          include_headers: {
            type: 'array',
            default: [],
            items: { type: 'string', pattern: '^[a-z0-9-]+$', not: { enum: ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-verdict-jwt-assertion'] } },
          },
          redact: { type: 'array', default: [], items: { type: 'string', minLength: 1 } },
          fail_open: { type: 'boolean', default: false },
          rotate_bytes: { type: 'integer', minimum: 0, default: 104857600 },
          rotate_interval: { type: 'string', pattern: '^(0|(\\d{1,9}(ms|s|m|h|d))+)$', default: '24h' },
          retention_days: { type: 'integer', minimum: 0, default: 0 },
          retention_action: { enum: ['delete', 'compress'], default: 'compress' },
          syslog: {
            type: 'object',
            additionalProperties: false,
            required: ['address'],
            properties: {
              address: { type: 'string', pattern: LISTEN },
              max_queue: { type: 'integer', minimum: 1, default: 100000 },
            },
          },
        },
        if: { properties: { sink: { const: 'file' } }, required: ['sink'] },
        then: { required: ['path'] },
      },
      identity: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          max_token_bytes: { type: 'integer', minimum: 256, maximum: 65536, default: 8192 },
          token_cache_size: { type: 'integer', minimum: 0, default: 10000 },
          token_cache_max_ttl: duration('5m'),
          default_issuers: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1 } },
          verify_concurrency: { type: 'integer', minimum: 1, maximum: 1024, default: 16 },
          oidc: {
            type: 'object',
            additionalProperties: false,
            required: ['issuer', 'client_id'],
            properties: {
              issuer: { type: 'string', pattern: '^https?://' },
              client_id: { type: 'string', minLength: 1 },
              client_secret: { type: 'string', minLength: 1 },
              client_secret_file: { type: 'string', minLength: 1 },
              scopes: { type: 'array', items: { type: 'string', pattern: '^[!#-\\[\\]-~]+$' }, default: ['openid', 'email', 'profile'] },
              callback_path: { type: 'string', pattern: '^/[^?#]*$', default: '/.verdict/callback' },
              logout_path: { type: 'string', pattern: '^/[^?#]*$', default: '/.verdict/logout' },
              login_path: { type: 'string', pattern: '^/[^?#]*$', default: '/.verdict/login' },
              public_scheme: { enum: ['https', 'http'], default: 'https' },
              public_port: { type: 'integer', minimum: 1, maximum: 65535 },
              allowed_return_hosts: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
              post_logout_redirect: { type: 'string', pattern: '^/' , default: '/' },
              groups_claim: { type: 'string', minLength: 1, default: 'groups' },
              assume_email_verified: { type: 'boolean', default: false },
              claims_refresh_interval: duration('5m'),
              claims_refresh_grace: duration('5m'),
              http_timeout: duration('5s'),
              login_timeout: duration('10m'),
              allow_insecure_http: { type: 'boolean', default: false },
            },
          },
          session: {
            type: 'object',
            additionalProperties: false,
            default: {},
            properties: {
              keys: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' } },
              keys_file: { type: 'string', minLength: 1 },
              cookie_name: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$', default: '__Host-verdict_session' },
              // Lower-case DNS name without a leading dot: sessions are shared by it and its subdomains.
              cookie_domain: { type: 'string', pattern: '^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$' },
              max_age: duration('12h'),
              idle_timeout: duration('2h'),
              max_login_cookies: { type: 'integer', minimum: 1, maximum: 20, default: 5 },
              store: {
                type: 'object',
                additionalProperties: false,
                default: {},
                properties: {
                  type: { enum: ['memory', 'redis'], default: 'memory' },
                  url: { type: 'string', pattern: '^rediss?://' },
                  prefix: { type: 'string', default: 'verdict:' },
                  connect_timeout: duration('5s'),
                  command_timeout: duration('1s'),
                },
                if: { properties: { type: { const: 'redis' } }, required: ['type'] },
                then: { required: ['url'] },
              },
            },
          },
          assertion: {
            type: 'object',
            additionalProperties: false,
            properties: {
              key_file: { type: 'string', minLength: 1 },
              issuer: { type: 'string', minLength: 1, default: 'verdict' },
              ttl: duration('2m'),
              groups_prefix: { type: 'array', items: { type: 'string' } },
            },
            required: ['key_file'],
          },
          jwt: {
            type: 'array',
            default: [],
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['issuer', 'jwks_uri', 'audiences'],
              properties: {
                issuer: { type: 'string', minLength: 1 },
                jwks_uri: { type: 'string', pattern: '^https?://' },
                audiences: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
                algorithms: { type: 'array', minItems: 1, items: { enum: [...ASYMMETRIC_ALGORITHMS] }, default: [...DEFAULT_ALGORITHMS] },
                groups_claim: { type: 'string', minLength: 1, default: 'groups' },
                assume_email_verified: { type: 'boolean', default: false },
                clock_skew: duration('30s'),
                jwks_cooldown: duration('30s'),
                jwks_timeout: duration('5s'),
                jwks_refresh: duration('10m'),
                jwks_min_interval: duration('1s'),
                jwks_max_stale: duration('6h'),
              },
            },
          },
        },
      },
      tailnet: {
        type: 'object',
        additionalProperties: false,
        properties: {
          localapi_socket: { type: 'string', minLength: 1, default: '/var/run/tailscale/tailscaled.sock' },
          listener_addresses: { type: 'array', items: { type: 'string' }, default: ['100.64.0.0/10', 'fd7a:115c:a1e0::/48'] },
          cache_ttl: duration('30s'),
          timeout: duration('1s'),
        },
      },
      admin: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          tokens: {
            type: 'array',
            default: [],
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name'],
              properties: {
                name: { type: 'string', pattern: '^[A-Za-z0-9_.@-]+$' },
                token: { type: 'string', minLength: 16 },
                token_file: { type: 'string', minLength: 1 },
              },
            },
          },
        },
      },
      request: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          xff_trusted_hops: { type: 'integer', minimum: 0, maximum: 10, default: 0 },
        },
      },
      response: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          expose_reasons: { type: 'boolean', default: true },
          // What Envoy gets in ext_authz dynamic_metadata (its access log reads it). Every field
          // costs encoding on every decision; the default is what the contract promises.
          dynamic_metadata: {
            type: 'array',
            items: { enum: ['decision_id', 'route', 'decision', 'reasons', 'status', 'user'] },
            uniqueItems: true,
            default: ['decision_id', 'route', 'decision', 'reasons'],
          },
        },
      },
      // serve --workers: processes sharing the ports (node:cluster); "auto" = the cores this process may use.
      workers: { oneOf: [{ type: 'integer', minimum: 1, maximum: 256 }, { const: 'auto' }], default: 1 },
      shutdown: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          drain_delay: duration('0s'),
          grace_period: duration('10s'),
        },
      },
      telemetry: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          // Absent: no traces, and no tracing code runs per decision.
          tracing: {
            type: 'object',
            additionalProperties: false,
            required: ['endpoint'],
            properties: {
              endpoint: { type: 'string', pattern: '^https?://[^\\s]+$' },
              protocol: { enum: ['http/protobuf', 'grpc'], default: 'http/protobuf' },
              sample_ratio: { type: 'number', minimum: 0, maximum: 1, default: 1 },
              service_name: { type: 'string', minLength: 1, default: 'verdict' },
              headers_file: { type: 'string', minLength: 1 },
              max_queue_size: { type: 'integer', minimum: 1, maximum: 100000, default: 2048 },
              export_timeout: duration('10s'),
            },
          },
        },
      },
      // Used only by `verdict envoy-config`: the Envoy in front of Verdict.
      envoy: envoySchema(),
      log: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
        },
      },
    },
  };
}
