import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { envoyValidator } from '../../../src/envoy/bootstrap-validator.js';
import { verdict } from '../../helpers/cli.js';

const ROOT = process.cwd();
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const docs = (file: string): Obj[] => parseAllDocuments(readFileSync(join(ROOT, file), 'utf8')).map((d) => d.toJS() as Obj);

describe('mesh integration snippets', () => {
  it('`verdict envoy-config --snippets`: every piece is a valid Envoy message of its type', () => {
    const r = verdict(['envoy-config', '--snippets']);
    assert.equal(r.code, 0, r.stderr);
    const parts = r.stdout.split('\n---\n');
    assert.ok(parts.length >= 3);
    const v = envoyValidator();
    for (const part of parts) {
      const type = /^# \(([a-z0-9._]+\.[A-Z][A-Za-z]+)\)$/m.exec(part)?.[1];
      assert.ok(type, `snippet names its Envoy type: ${part.slice(0, 120)}`);
      const value = parseAllDocuments(part)[0]!.toJS();
      assert.deepEqual(v.check(type, value), [], type);
    }
    const filter = parseAllDocuments(parts[0]!)[0]!.toJS() as Obj;
    assert.equal(filter.typed_config.failure_mode_allow, false);
    assert.ok(parts.some((p) => p.includes('route: grafana')), 'one per-route piece per policy route');
  });

  it('Kubernetes: Deployment probes, Service appProtocol, policies from a ConfigMap', () => {
    const all = docs('deploy/kubernetes/verdict.yaml');
    const dep = all.find((d) => d.kind === 'Deployment')!;
    const c = dep.spec.template.spec.containers[0];
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.grpc.service, 'envoy.service.auth.v3.Authorization');
    assert.equal(c.livenessProbe.grpc.port, 9191);
    assert.equal(dep.spec.template.spec.securityContext.runAsNonRoot, true);
    const svc = all.find((d) => d.kind === 'Service')!;
    assert.equal(svc.spec.ports.find((p: Obj) => p.name === 'grpc').appProtocol, 'grpc');
    const policies = dep.spec.template.spec.volumes.find((v: Obj) => v.name === 'policies');
    const mount = c.volumeMounts.find((m: Obj) => m.name === 'policies');
    assert.equal(policies.configMap.name, 'verdict-policies');
    const config = JSON.parse(all.find((d) => d.metadata?.name === 'verdict-config')!.data['verdict.json']);
    assert.equal(config.policies.dir, mount.mountPath, 'the config reads the mounted ConfigMap folder');
    const policyDoc = JSON.parse(all.find((d) => d.metadata?.name === 'verdict-policies')!.data['apps.json']);
    assert.equal(policyDoc.version, 1);
    // Only Envoy reaches the gRPC port: its ingress rule names a peer, the HTTP rule does not widen it.
    const np = all.find((d) => d.kind === 'NetworkPolicy')!;
    assert.deepEqual(np.spec.podSelector.matchLabels, dep.spec.selector.matchLabels);
    const grpcRules = np.spec.ingress.filter((r: Obj) => r.ports.some((p: Obj) => p.port === 'grpc'));
    assert.equal(grpcRules.length, 1);
    assert.deepEqual(grpcRules[0].from[0].podSelector.matchLabels, { 'verdict.io/client': 'envoy' });
    assert.ok(np.spec.ingress.every((r: Obj) => r.from !== undefined || r.ports.every((p: Obj) => p.port !== 'grpc')));
  });

  it('Istio: an envoyExtAuthzGrpc provider that fails closed, and a CUSTOM AuthorizationPolicy using it', () => {
    const [op, policy] = docs('deploy/istio/verdict-ext-authz.yaml');
    const provider = op!.spec.meshConfig.extensionProviders[0];
    assert.equal(provider.envoyExtAuthzGrpc.port, 9191);
    assert.equal(provider.envoyExtAuthzGrpc.failOpen, false);
    assert.equal(policy!.kind, 'AuthorizationPolicy');
    assert.equal(policy!.spec.action, 'CUSTOM');
    assert.equal(policy!.spec.provider.name, provider.name);
  });
});
