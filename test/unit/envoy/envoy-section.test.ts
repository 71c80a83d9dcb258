import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../../src/config/load-config.js';
import { SYSTEM_CA_BUNDLE } from '../../../src/config/envoy-schema.js';
import { checkBootstrap } from '../../../src/envoy/bootstrap-validator.js';
import { DEFAULT_ENVOY_SECTION, envoyDuration, envoyOptions } from '../../../src/envoy/envoy-options.js';
import { verdict } from '../../helpers/cli.js';
import { envoySections, variantBootstrap } from '../../helpers/envoy-variants.js';
import { tempDir } from '../../helpers/tmp.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
// The strict proto check needs no files; the real-Envoy test (integration/envoy-validate) makes certificates.
const CERTS = { caFile: '/etc/verdict-test/ca.pem', certFile: '/etc/verdict-test/server.pem', keyFile: '/etc/verdict-test/server.key' };
const sections = envoySections(CERTS);
const build = (name: string): Obj => variantBootstrap(tempDir('verdict-envoy-').dir, sections[name]!);
const hcm = (listener: Obj): Obj => listener.filter_chains[0].filters[0].typed_config;
const cluster = (b: Obj, name: string): Obj => b.static_resources.clusters.find((c: Obj) => c.name === name);

describe('the config\'s `envoy` section shapes `verdict envoy-config` (checked against Envoy\'s protos)', () => {
  it('the built-in defaults are the schema\'s', () => {
    assert.deepEqual(JSON.parse(JSON.stringify(loadConfig(undefined, {}, process.cwd(), { requireSecrets: false }).envoy)), JSON.parse(JSON.stringify(DEFAULT_ENVOY_SECTION)));
    assert.equal(envoyDuration('1h30m'), '5400s');
    assert.equal(envoyDuration('250ms'), '0.25s');
  });

  for (const name of Object.keys(sections)) {
    it(`variant ${name} parses strictly as a Bootstrap`, () => {
      assert.deepEqual(checkBootstrap(build(name)), []);
    });
  }

  it('defaults: one plain listener on 0.0.0.0:8080, Verdict at verdict:9191, access log without query strings', () => {
    const b = build('defaults');
    assert.equal(b.static_resources.listeners.length, 1);
    assert.deepEqual(b.static_resources.listeners[0].address.socket_address, { address: '0.0.0.0', port_value: 8080 });
    assert.equal(b.static_resources.listeners[0].filter_chains[0].transport_socket, undefined);
    assert.deepEqual(b.admin.address.socket_address, { address: '127.0.0.1', port_value: 9901 });
    const v = cluster(b, 'verdict');
    assert.equal(v.type, 'STRICT_DNS');
    assert.deepEqual(v.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: 'verdict', port_value: 9191 });
    const log = hcm(b.static_resources.listeners[0]).access_log[0];
    assert.equal(log.name, 'envoy.access_loggers.stdout');
    const format = log.typed_config.log_format.text_format_source.inline_string as string;
    assert.match(format, /%REQ_WITHOUT_QUERY\(X-ENVOY-ORIGINAL-PATH\?:PATH\)%/);
    assert.doesNotMatch(format, /%REQ\(X-ENVOY-ORIGINAL-PATH\?:PATH\)%/);
    for (const k of ['decision_id', 'route', 'reasons']) assert.ok(format.includes(`%DYNAMIC_METADATA(envoy.filters.http.ext_authz:${k})%`), k);
    assert.equal(log.typed_config.log_format.formatters[0].name, 'envoy.formatter.req_without_query');
    // An https upstream is verified against the system bundle, by name; timeouts and breakers are explicit.
    const named = cluster(b, 'upstream_app_internal_443');
    const tls = named.transport_socket.typed_config;
    assert.equal(tls.sni, 'app.internal');
    assert.equal(tls.common_tls_context.validation_context.trusted_ca.filename, SYSTEM_CA_BUNDLE);
    assert.deepEqual(tls.common_tls_context.validation_context.match_typed_subject_alt_names, [{ san_type: 'DNS', matcher: { exact: 'app.internal' } }]);
    const byIp = cluster(b, 'upstream_10_0_0_5_8443').transport_socket.typed_config;
    assert.equal(byIp.sni, undefined, 'no SNI for an IP literal');
    assert.deepEqual(byIp.common_tls_context.validation_context.match_typed_subject_alt_names, [{ san_type: 'IP_ADDRESS', matcher: { exact: '10.0.0.5' } }]);
    assert.equal(cluster(b, 'upstream_plain_internal_8080').transport_socket, undefined);
    assert.equal(named.connect_timeout, '2s');
    assert.deepEqual(named.circuit_breakers.thresholds, [{ priority: 'DEFAULT', max_connections: 1024, max_pending_requests: 1024, max_requests: 1024, max_retries: 3 }]);
    assert.equal(named.health_checks, undefined, 'active health checks are opt-in');
    const routes = hcm(b.static_resources.listeners[0]).route_config.virtual_hosts.flatMap((vh: Obj) => vh.routes);
    for (const r of routes) assert.equal(r.route.timeout, '15s', r.name);
  });

  it('TLS: the ingress listener terminates TLS from the files; the plain listener only redirects to the HTTPS port', () => {
    const b = build('tls-with-redirect');
    const [ingress, redirect] = b.static_resources.listeners as Obj[];
    assert.equal(ingress!.name, 'ingress');
    assert.deepEqual(ingress!.address.socket_address, { address: '127.0.0.1', port_value: 8443 });
    const ctx = ingress!.filter_chains[0].transport_socket.typed_config.common_tls_context;
    assert.deepEqual(ctx.tls_certificates, [{ certificate_chain: { filename: CERTS.certFile }, private_key: { filename: CERTS.keyFile } }]);
    assert.deepEqual(ctx.alpn_protocols, ['h2', 'http/1.1']);
    assert.equal(ctx.tls_params.tls_minimum_protocol_version, 'TLSv1_2');
    assert.deepEqual(redirect!.address.socket_address, { address: '127.0.0.1', port_value: 8080 });
    const rh = hcm(redirect!);
    assert.deepEqual(rh.http_filters.map((f: Obj) => f.name), ['envoy.filters.http.router'], 'nothing but the redirect on plain HTTP');
    assert.deepEqual(rh.route_config.virtual_hosts[0].routes[0].redirect, { https_redirect: true, port_redirect: 443 });
    assert.deepEqual(cluster(b, 'verdict').load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: '127.0.0.1', port_value: 9191 });
    assert.equal(cluster(b, 'verdict').type, 'STATIC');
    const only = build('tls-only');
    assert.equal(only.static_resources.listeners.length, 1, 'redirect_http: false → no plain listener');
    assert.deepEqual(only.static_resources.listeners[0].address.socket_address, { address: '0.0.0.0', port_value: 8443 });
    assert.deepEqual(only.admin.address.socket_address, { address: '127.0.0.1', port_value: 0 });
  });

  it('upstream settings: defaults for all, per-upstream overrides (CA file, SNI, timeout, health check, breakers), query strings when asked', () => {
    const b = build('upstream-settings');
    const named = cluster(b, 'upstream_app_internal_443');
    const tls = named.transport_socket.typed_config;
    assert.equal(tls.sni, 'app.example.net');
    assert.equal(tls.common_tls_context.validation_context.trusted_ca.filename, CERTS.caFile);
    assert.deepEqual(tls.common_tls_context.validation_context.match_typed_subject_alt_names, [{ san_type: 'DNS', matcher: { exact: 'app.example.net' } }]);
    assert.deepEqual(named.health_checks, [{ timeout: '1s', interval: '3s', no_traffic_interval: '3s', unhealthy_threshold: 5, healthy_threshold: 1, http_health_check: { path: '/ready', host: 'app.example.net' } }]);
    assert.equal(named.connect_timeout, '0.5s');
    assert.deepEqual(named.common_lb_config, { healthy_panic_threshold: { value: 0 } }, 'no panic routing: a failed check takes the host out');
    assert.equal(cluster(build('defaults'), 'upstream_app_internal_443').common_lb_config, undefined);
    const plain = cluster(b, 'upstream_plain_internal_8080');
    assert.deepEqual(plain.health_checks[0], { timeout: '2s', interval: '10s', no_traffic_interval: '10s', unhealthy_threshold: 3, healthy_threshold: 2, http_health_check: { path: '/healthz', host: 'plain.internal' } });
    assert.deepEqual(plain.circuit_breakers.thresholds[0], { priority: 'DEFAULT', max_connections: 10, max_pending_requests: 20, max_requests: 30, max_retries: 0 });
    assert.equal(cluster(b, 'upstream_10_0_0_5_8443').circuit_breakers.thresholds[0].max_connections, 2);
    const vhosts = hcm(b.static_resources.listeners[0]).route_config.virtual_hosts as Obj[];
    const timeoutOf = (host: string) => vhosts.find((v) => v.domains.includes(host))!.routes.map((r: Obj) => r.route.timeout);
    assert.deepEqual(timeoutOf('app.example.com'), ['5s']);
    assert.deepEqual(timeoutOf('plain.example.com'), ['90s']);
    const v = cluster(b, 'verdict');
    assert.deepEqual(v.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: '::1', port_value: 9191 });
    const log = hcm(b.static_resources.listeners[0]).access_log[0];
    assert.equal(log.name, 'envoy.access_loggers.stderr', '/dev/stderr is Envoy\'s stderr logger (it cannot open a socket by path)');
    assert.equal(hcm(build('tls-only').static_resources.listeners[0]).access_log[0].typed_config.path, '/etc/verdict-test/access.log');
    assert.match(log.typed_config.log_format.text_format_source.inline_string, /%REQ\(X-ENVOY-ORIGINAL-PATH\?:PATH\)%/);
    assert.equal(log.typed_config.log_format.formatters, undefined);
  });

  it('TLS to Verdict (grpc.tls): verified, ALPN h2, with a client certificate for mutual TLS; refused when missing', () => {
    const v = cluster(build('verdict-mtls'), 'verdict').transport_socket.typed_config;
    assert.equal(v.sni, 'localhost');
    assert.deepEqual(v.common_tls_context.alpn_protocols, ['h2'], 'gRPC over TLS negotiates h2');
    assert.equal(v.common_tls_context.validation_context.trusted_ca.filename, CERTS.caFile);
    assert.deepEqual(v.common_tls_context.validation_context.match_typed_subject_alt_names, [{ san_type: 'DNS', matcher: { exact: 'localhost' } }]);
    assert.deepEqual(v.common_tls_context.tls_certificates, [{ certificate_chain: { filename: CERTS.certFile }, private_key: { filename: CERTS.keyFile } }]);
    assert.equal(cluster(build('defaults'), 'verdict').transport_socket, undefined);
    const dir = tempDir('verdict-envoy-').dir;
    const grpc = (client_ca_file?: string) => ({ grpc: { tls: { cert_file: 'c.pem', key_file: 'k.pem', ...(client_ca_file ? { client_ca_file } : {}) } } });
    assert.throws(() => variantBootstrap(dir, {}, grpc()), /grpc\.tls is set, so Envoy must talk TLS to Verdict: set envoy\.verdict_tls/);
    assert.throws(() => variantBootstrap(dir, { verdict_tls: {} }, grpc('ca.pem')), /needs a client certificate: set envoy\.verdict_tls\.cert_file/);
    const ok = variantBootstrap(dir, { verdict_address: '127.0.0.1:9191', verdict_tls: { cert_file: 'c.pem', key_file: 'k.pem' } }, grpc('ca.pem'));
    const ip = cluster(ok, 'verdict').transport_socket.typed_config;
    assert.equal(ip.sni, undefined);
    assert.equal(ip.common_tls_context.validation_context.trusted_ca.filename, SYSTEM_CA_BUNDLE);
    assert.deepEqual(ip.common_tls_context.validation_context.match_typed_subject_alt_names, [{ san_type: 'IP_ADDRESS', matcher: { exact: '127.0.0.1' } }]);
    assert.throws(() => variantBootstrap(dir, { verdict_tls: { cert_file: 'c.pem' } }), (e: unknown) => /\/envoy\/verdict_tls/.test(JSON.stringify((e as { problems: unknown }).problems)));
  });

  it('refuses bad input with a clear error: unknown upstream, duplicates, half a TLS pair, bad addresses', () => {
    const dir = tempDir('verdict-envoy-').dir;
    assert.throws(() => variantBootstrap(dir, { upstreams: [{ to: 'https://nowhere.internal' }] }), /envoy\.upstreams: https:\/\/nowhere\.internal:443 is no route's `to`/);
    assert.throws(() => variantBootstrap(dir, { upstreams: [{ to: 'https://app.internal' }, { to: 'https://APP.internal:443/' }] }), /listed twice/);
    const problem = (re: RegExp) => (e: unknown) => re.test(JSON.stringify((e as { problems: unknown }).problems));
    assert.throws(() => variantBootstrap(dir, { listen: 'nope' }), problem(/"pointer":"\/envoy\/listen"/));
    assert.throws(() => variantBootstrap(dir, { tls: { cert_file: 'c.pem' } }), problem(/"pointer":"\/envoy\/tls".*key_file/));
    assert.throws(() => variantBootstrap(dir, { upstream: { timeout: '5 s' } }), problem(/"pointer":"\/envoy\/upstream\/timeout"/));
    assert.throws(() => variantBootstrap(dir, { upstreams: [{ to: 'ftp://x' }] }), problem(/"pointer":"\/envoy\/upstreams\/0\/to"/));
    assert.throws(() => envoyOptions(DEFAULT_ENVOY_SECTION, [], { tlsCert: 'c.pem' }), /both a certificate and a key/);
    assert.throws(() => envoyOptions(DEFAULT_ENVOY_SECTION, [], { verdictAddress: 'verdict' }), /--verdict-address "verdict" is not host:port/);
    assert.throws(() => envoyOptions(DEFAULT_ENVOY_SECTION, [], { listen: '0.0.0.0:70000' }), /--listen/);
  });

  it('CLI flags override the section: --verdict-address, --listen, --admin-listen, --tls-cert/--tls-key/--tls-listen; bad ones exit 1', () => {
    const r = verdict(['envoy-config', '--verdict-address', '127.0.0.1:19191', '--listen', '127.0.0.1:18080', '--admin-listen', '127.0.0.1:0', '--tls-cert', '/c.pem', '--tls-key', '/k.pem', '--tls-listen', '127.0.0.1:18443']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /address: 127\.0\.0\.1\n\s+port_value: 19191/);
    assert.match(r.stdout, /port_redirect: 18443/);
    assert.match(r.stdout, /filename: \/c\.pem/);
    assert.match(r.stdout, /port_value: 18080/);
    const snippets = verdict(['envoy-config', '--snippets', '--verdict-address', '10.1.2.3:9191']);
    assert.equal(snippets.code, 0, snippets.stderr);
    assert.match(snippets.stdout, /address: 10\.1\.2\.3/);
    const bad = verdict(['envoy-config', '--tls-cert', '/c.pem']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^verdict envoy-config: TLS needs both a certificate and a key/);
    assert.equal(bad.stdout, '');
  });

  it('a route `to` without a scheme (validate accepts it: decisions never read it) is named by file and pointer, with the fix', () => {
    const t = tempDir();
    t.write('p/apps.json', { version: 1, routes: [
      { id: 'ok', match: { hosts: ['a.example.com'] }, to: 'http://10.0.0.1:80', allow: { accept: true } },
      { id: 'wiki', match: { hosts: ['wiki.example.com'] }, to: 'wiki.tailnet-abc.ts.net:8080', allow: { accept: true } },
      { id: 'docs', match: { hosts: ['docs.example.com'] }, to: 'https://docs.internal/v2', allow: { accept: true } },
    ] });
    const r = verdict(['envoy-config', '--config', t.write('v.json', { policies: { dir: 'p' } })], { cwd: t.dir });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.deepEqual(r.stderr.trim().split('\n'), [
      'verdict envoy-config: p/apps.json:/routes/1/to: "wiki.tailnet-abc.ts.net:8080" is not http(s)://host[:port]; write "http://wiki.tailnet-abc.ts.net:8080" (or https://)',
      'verdict envoy-config: p/apps.json:/routes/2/to: "https://docs.internal/v2" is not http(s)://host[:port]; write the upstream as http(s)://host[:port], without a path',
    ]);
  });
});
