import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { checkBootstrap } from '../../src/envoy/bootstrap-validator.js';
import { makeTestCerts } from '../helpers/certs.js';
import { verdict } from '../helpers/cli.js';
import { envoySections, variantBootstrap } from '../helpers/envoy-variants.js';
import { tempDir } from '../helpers/tmp.js';
import { hasTool, requireTool, toolPath } from '../helpers/tools.js';

const ROOT = process.cwd();
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const T = (name: string) => `type.googleapis.com/${name}`;

/** `envoy --mode validate` (about a second each): loads the config as a real start would, certificates included. */
function envoyValidate(file: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(toolPath('envoy'), ['--mode', 'validate', '-c', file, '--log-level', 'error'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ ok: code === 0 && /OK/.test(output), output }));
  });
}

/** Validates many configs, two Envoys at a time (two cores). */
async function validateAll(files: Record<string, string>): Promise<Record<string, { ok: boolean; output: string }>> {
  const names = Object.keys(files);
  const results: Record<string, { ok: boolean; output: string }> = {};
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      results[name] = await envoyValidate(files[name]!);
    }
  };
  await Promise.all([worker(), worker()]);
  return results;
}

/** A minimal bootstrap that holds every `--snippets` piece where the piece's instructions put it. */
function bootstrapAroundSnippets(pieces: { type: string; value: Obj }[]): Obj {
  const filters = pieces.filter((p) => p.type.endsWith('.HttpFilter')).map((p) => p.value);
  const clusters = pieces.filter((p) => p.type.endsWith('.Cluster')).map((p) => p.value);
  const routes = pieces.filter((p) => p.type.endsWith('.Route')).map((p, i) => ({ match: { prefix: `/r${i}/` }, route: { cluster: 'app' }, ...p.value }));
  assert.ok(filters.length === 1 && clusters.length === 1 && routes.length > 0);
  return {
    static_resources: {
      listeners: [
        {
          name: 'existing',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': T('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager'),
                    stat_prefix: 'existing',
                    http_filters: [...filters, { name: 'envoy.filters.http.router', typed_config: { '@type': T('envoy.extensions.filters.http.router.v3.Router') } }],
                    route_config: { virtual_hosts: [{ name: 'existing', domains: ['*'], routes }] },
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [...clusters, { name: 'app', type: 'STATIC', load_assignment: { cluster_name: 'app', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } } }] }] } }],
    },
  };
}

describe('every Envoy config Verdict ships or generates loads in real Envoy (`envoy --mode validate`)', () => {
  const dir = tempDir('verdict-envoy-validate-').dir;
  const files: Record<string, string> = {};
  /** Configs our proto check rejects; Envoy must reject them too. */
  const broken: Record<string, string> = {};
  let results: Record<string, { ok: boolean; output: string }> = {};

  before(async () => {
    // ca-certificates: the generated configs name the system CA bundle, and Envoy loads it.
    if (!hasTool('envoy') || !hasTool('openssl') || !hasTool('ca-certificates')) return;
    for (const f of readdirSync(join(ROOT, 'envoy')).filter((n) => n.endsWith('.yaml'))) files[`envoy/${f}`] = join(ROOT, 'envoy', f);

    // The docker-compose tailnet profile's second Envoy: the file it mounts as its config.
    const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as Obj;
    const mount = (compose.services['envoy-tailnet'].volumes as string[]).find((v) => v.endsWith(':/etc/envoy/envoy.yaml:ro'))!;
    files['docker-compose envoy-tailnet'] = join(ROOT, mount.split(':')[0]!);

    const snippets = verdict(['envoy-config', '--snippets']);
    assert.equal(snippets.code, 0, snippets.stderr);
    const pieces = snippets.stdout.split('\n---\n').map((part) => ({ type: /^# \(([a-z0-9._]+\.[A-Z][A-Za-z]+)\)$/m.exec(part)![1]!, value: parseAllDocuments(part)[0]!.toJS() as Obj }));
    const around = bootstrapAroundSnippets(pieces);
    assert.deepEqual(checkBootstrap(around), []);
    writeFileSync(join(dir, 'snippets.yaml'), stringify(around));
    files['--snippets in an existing bootstrap'] = join(dir, 'snippets.yaml');

    const certs = makeTestCerts(dir, ['app.example.net', 'app.internal', '10.0.0.5', 'localhost']);
    for (const [name, section] of Object.entries(envoySections(certs))) {
      const b = variantBootstrap(tempDir('verdict-envoy-variant-').dir, section);
      const file = join(dir, `variant-${name}.yaml`);
      writeFileSync(file, stringify(b, { lineWidth: 0 }));
      files[`envoy section: ${name}`] = file;
    }

    // Disagreement checks: what our validator refuses, Envoy refuses too.
    const base = parse(readFileSync(join(ROOT, 'envoy/envoy.yaml'), 'utf8')) as Obj;
    const hcm = (b: Obj) => b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    const mutations: Record<string, (b: Obj) => void> = {
      'unknown field': (b) => (hcm(b).normalise_path = true),
      'bad enum': (b) => (hcm(b).path_with_escaped_slashes_action = 'REJECT'),
    };
    for (const [name, mutate] of Object.entries(mutations)) {
      const b = structuredClone(base);
      mutate(b);
      assert.notDeepEqual(checkBootstrap(b), [], `our validator refuses: ${name}`);
      broken[name] = join(dir, `broken-${name.replace(/ /g, '-')}.yaml`);
      writeFileSync(broken[name], stringify(b, { lineWidth: 0 }));
    }
    // The same file under two names (demo.yaml is also the tailnet Envoy's) is run once.
    const all = { ...files, ...Object.fromEntries(Object.entries(broken).map(([k, v]) => [`broken: ${k}`, v])) };
    const byFile = await validateAll(Object.fromEntries([...new Set(Object.values(all))].map((f) => [f, f])));
    results = Object.fromEntries(Object.entries(all).map(([name, f]) => [name, byFile[f]!]));
  });

  const need = (t: TestContext) => requireTool(t, 'envoy') && requireTool(t, 'openssl') && requireTool(t, 'ca-certificates');

  it('envoy/*.yaml, the tailnet Envoy\'s config, the --snippets pieces and every `envoy` section variant load', (t) => {
    if (!need(t)) return;
    assert.ok(Object.keys(files).length >= 8, Object.keys(files).join(', '));
    for (const [name, r] of Object.entries(files).map(([name]) => [name, results[name]!] as const)) assert.ok(r.ok, `${name}: ${r.output.trim().split('\n').slice(-3).join('\n')}`);
  });

  it('what the proto check refuses, Envoy refuses too', (t) => {
    if (!need(t)) return;
    for (const name of Object.keys(broken)) assert.equal(results[`broken: ${name}`]!.ok, false, `Envoy accepted ${name}`);
  });
});
