import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { checkBootstrap, envoyValidator } from '../../../src/envoy/bootstrap-validator.js';
import { verdict } from '../../helpers/cli.js';

const ROOT = process.cwd();
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const load = (f: string): Obj => parse(readFileSync(join(ROOT, 'envoy', f), 'utf8')) as Obj;
const hcmOf = (b: Obj): Obj => b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;

describe('Envoy config, checked against Envoy\'s own protos (the fast check; integration/envoy-validate.test.ts loads them in real Envoy)', () => {
  it('the committed envoy/envoy.yaml is what `verdict envoy-config` prints for the example policies', () => {
    const r = verdict(['envoy-config']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(ROOT, 'envoy/envoy.yaml'), 'utf8').trim(), r.stdout.trim(), 'envoy/envoy.yaml drifted: run `npx verdict envoy-config > envoy/envoy.yaml`');
  });

  for (const f of readdirSync(join(ROOT, 'envoy')).filter((n) => n.endsWith('.yaml'))) {
    it(`envoy/${f} parses strictly as envoy.config.bootstrap.v3.Bootstrap`, () => {
      assert.deepEqual(checkBootstrap(load(f)), []);
    });
  }

  it('has the safe defaults', () => {
    const b = load('envoy.yaml');
    const hcm = hcmOf(b);
    assert.equal(hcm.normalize_path, true);
    assert.equal(hcm.merge_slashes, true);
    assert.match(hcm.path_with_escaped_slashes_action, /^(REJECT_REQUEST|UNESCAPE_AND_REDIRECT)$/);
    assert.equal(hcm.common_http_protocol_options.headers_with_underscores_action, 'REJECT_REQUEST');
    assert.equal(hcm.use_remote_address, true);
    assert.equal(hcm.generate_request_id, true);
    const filters = hcm.http_filters as Obj[];
    assert.equal(filters.at(-1)!.name, 'envoy.filters.http.router');
    const authz = filters.findIndex((f) => f.name === 'envoy.filters.http.ext_authz');
    assert.ok(authz >= 0 && authz < filters.length - 1, 'ext_authz before the router');
    const ext = filters[authz]!.typed_config;
    assert.equal(ext.failure_mode_allow, false);
    assert.equal(ext.status_on_error.code, 'ServiceUnavailable');
    assert.equal(ext.transport_api_version, 'V3');
    assert.ok(ext.grpc_service.timeout);
    const verdictCluster = (b.static_resources.clusters as Obj[]).find((c) => c.name === 'verdict')!;
    assert.ok(verdictCluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config.http2_protocol_options);
    assert.equal(verdictCluster.health_checks[0].grpc_health_check.service_name, 'envoy.service.auth.v3.Authorization');
    assert.equal(verdictCluster.common_lb_config.healthy_panic_threshold.value, 0);
    const log = JSON.stringify(hcm.access_log);
    for (const k of ['decision_id', 'route', 'reasons', 'RESPONSE_FLAGS']) assert.ok(log.includes(k), `access log prints ${k}`);
  });

  it('binds every Envoy route to its policy route, with Verdict\'s own paths (exactly those) on every host when browser login is on', () => {
    const vhosts = hcmOf(load('envoy.yaml')).route_config.virtual_hosts as Obj[];
    const grafana = vhosts.find((v) => v.domains.includes('grafana.example.com'))!;
    assert.deepEqual(grafana.domains, ['grafana.example.com', 'grafana.example.com:*']);
    const ids = grafana.routes.map((r: Obj) => r.typed_per_filter_config['envoy.filters.http.ext_authz'].check_settings.context_extensions.route);
    assert.deepEqual(ids, ['grafana'], 'no login configured: no route for Verdict\'s pages');
    const api = vhosts.find((v) => v.domains.includes('api.example.com'))!;
    assert.deepEqual(api.routes.map((r: Obj) => r.name), ['api-health', 'api']);
    assert.deepEqual(api.routes[0].match.headers[0].string_match.safe_regex.regex, '(?i)(?:GET|HEAD)');
    // The demo logs browsers in: its login, callback and logout paths, and no other /.verdict/ path, on every host.
    for (const v of hcmOf(load('demo.yaml')).route_config.virtual_hosts as Obj[]) {
      assert.deepEqual(v.routes[0].match, { safe_regex: { regex: '/\\.verdict/callback|/\\.verdict/logout|/\\.verdict/login' } }, v.name);
    }
    assert.ok(vhosts.some((v) => v.domains.includes('*.api.example.com')));
  });

  it('the validator itself catches unknown fields, wrong types, bad enums and unknown @types, with paths', () => {
    const b = load('envoy.yaml');
    const hcm = hcmOf(b);
    hcm.normalise_path = true;
    hcm.merge_slashes = 'yes';
    hcm.path_with_escaped_slashes_action = 'REJECT';
    hcm.http_filters[0].typed_config.failure_mode_alow = false;
    hcm.http_filters[1].typed_config['@type'] = 'type.googleapis.com/envoy.extensions.filters.http.nope.v3.Nope';
    b.static_resources.clusters[0].connect_timeout = '1 second';
    const errors = checkBootstrap(b).join('\n');
    const at = 'bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config';
    assert.match(errors, new RegExp(`${at.replace(/[[\].]/g, '\\$&')}\\.normalise_path: unknown field`));
    assert.match(errors, /merge_slashes: expected true or false/);
    assert.match(errors, /path_with_escaped_slashes_action: "REJECT" is not a value/);
    assert.match(errors, /http_filters\[0\]\.typed_config\.failure_mode_alow: unknown field of envoy\.extensions\.filters\.http\.ext_authz\.v3\.ExtAuthz/);
    assert.match(errors, /http_filters\[1\]\.typed_config\.@type: unknown type/);
    assert.match(errors, /clusters\[0\]\.connect_timeout: expected a duration/);
    assert.equal(envoyValidator().check('envoy.config.bootstrap.v3.Bootstrap', { static_resources: { clusters: [{ name: 'x', type: 'STATIC', cluster_type: {} }] } }).length, 1, 'oneof members exclude each other');
  });
});
