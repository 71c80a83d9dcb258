import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadConfig } from '../../src/config/load-config.js';
import { envoyOptions, verdictPaths } from '../../src/envoy/envoy-options.js';
import { generateBootstrap } from '../../src/envoy/generate-bootstrap.js';
import { loadPolicyDir } from '../../src/policy-store/policy-store.js';
import type { TestCerts } from './certs.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Routes to a plain, a TLS-by-name and a TLS-by-IP upstream. */
export const VARIANT_POLICY = {
  version: 1,
  routes: [
    { id: 'plain', match: { hosts: ['plain.example.com'] }, to: 'http://plain.internal:8080', allow: { accept: true } },
    { id: 'named', match: { hosts: ['app.example.com'] }, to: 'https://app.internal', allow: { accept: true } },
    { id: 'by-ip', match: { hosts: ['ip.example.com'], path_prefix: '/api/' }, to: 'https://10.0.0.5:8443', allow: { accept: true } },
  ],
};

/**
 * The `envoy` config sections worth loading in Envoy: TLS with and without the redirect
 * listener, upstream TLS (system CA, CA file, SNI), per-upstream timeouts, circuit breakers,
 * health checks and both access log forms. Certificate paths come from `certs`.
 */
export function envoySections(certs: TestCerts): Record<string, Obj> {
  const tls = { cert_file: certs.certFile, key_file: certs.keyFile };
  return {
    defaults: {},
    'tls-with-redirect': { verdict_address: '127.0.0.1:9191', listen: '127.0.0.1:8080', tls: { ...tls, listen: '127.0.0.1:8443', redirect_port: 443 } },
    'tls-only': { verdict_address: 'verdict.internal:9191', tls: { ...tls, redirect_http: false }, admin_listen: '127.0.0.1:0', access_log: { path: join(dirname(certs.certFile), 'access.log') } },
    'verdict-mtls': { verdict_address: 'verdict.internal:9191', verdict_tls: { ca_file: certs.caFile, sni: 'localhost', cert_file: certs.certFile, key_file: certs.keyFile } },
    'upstream-settings': {
      verdict_address: '[::1]:9191',
      access_log: { path: '/dev/stderr', include_query: true },
      upstream: { connect_timeout: '500ms', timeout: '1m30s', max_connections: 10, max_pending_requests: 20, max_requests: 30, max_retries: 0, health_check: { path: '/healthz' } },
      upstreams: [
        { to: 'https://app.internal:443', ca_file: certs.caFile, sni: 'app.example.net', timeout: '5s', health_check: { path: '/ready', interval: '3s', timeout: '1s', unhealthy_threshold: 5, healthy_threshold: 1 } },
        { to: 'https://10.0.0.5:8443', ca_file: certs.caFile, max_connections: 2 },
      ],
    },
  };
}

/** The bootstrap `verdict envoy-config` makes for VARIANT_POLICY and one `envoy` section. */
export function variantBootstrap(dir: string, envoy: Obj, config: Obj = {}): Obj {
  mkdirSync(join(dir, 'policies'), { recursive: true });
  writeFileSync(join(dir, 'policies/routes.json'), JSON.stringify(VARIANT_POLICY));
  const file = join(dir, 'verdict.json');
  writeFileSync(file, JSON.stringify({ ...config, policies: { dir: 'policies' }, envoy }));
  const c = loadConfig(file, {}, dir, { requireSecrets: false });
  // As `verdict envoy-config` does it (src/cli/envoy-config.ts).
  const grpcTls = c.grpc.tls && { mutual: c.grpc.tls.client_ca_file !== undefined };
  return generateBootstrap(loadPolicyDir(c.policies.dir), envoyOptions(c.envoy, verdictPaths(c.identity.oidc), {}, grpcTls));
}
