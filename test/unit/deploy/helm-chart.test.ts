import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { configSchema } from '../../../src/config/schema.js';
import { compilePolicy } from '../../../src/policy/compile-policy.js';
import { compileSchema } from '../../../src/schema-validator.js';
import { hasTool, toolPath } from '../../helpers/tools.js';

const ROOT = process.cwd();
const CHART = join(ROOT, 'deploy/helm/verdict');
type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const skip = hasTool('helm') ? false : 'helm is missing: install Go; npm test builds it (go install helm.sh/helm/v3/cmd/helm)';

function helm(args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(toolPath('helm'), args, { encoding: 'utf8', env: { ...process.env, HELM_CACHE_HOME: '/tmp/verdict-helm-cache', HELM_CONFIG_HOME: '/tmp/verdict-helm-config', HELM_DATA_HOME: '/tmp/verdict-helm-data' } });
  return { code: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function render(...set: string[]): Obj[] {
  const r = helm(['template', 'verdict', CHART, '--namespace', 'verdict', ...set]);
  assert.equal(r.code, 0, r.stderr);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Obj).filter(Boolean);
}

const kind = (all: Obj[], k: string) => all.filter((d) => d.kind === k);
const checkConfig = compileSchema(configSchema());

describe('Helm chart deploy/helm/verdict', { skip }, () => {
  it('passes helm lint --strict', () => {
    const r = helm(['lint', '--strict', CHART]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  it('defaults: config and policies Verdict accepts, probes, PDB, NetworkPolicy only Envoy may pass to gRPC', () => {
    const all = render();
    assert.deepEqual(all.map((d) => d.kind).sort(), ['ConfigMap', 'ConfigMap', 'Deployment', 'NetworkPolicy', 'PodDisruptionBudget', 'Service']);
    const config = JSON.parse(all.find((d) => d.metadata.name === 'verdict-config')!.data['verdict.json']);
    assert.deepEqual(checkConfig(structuredClone(config)), [], 'the rendered verdict.json is a valid config');
    assert.equal(config.audit.sink, 'stdout');
    assert.equal(config.telemetry, undefined, 'tracing off by default');
    const policies = all.find((d) => d.metadata.name === 'verdict-policies')!.data;
    const compiled = compilePolicy(Object.entries(policies).map(([name, text]) => ({ name, text: text as string })), {});
    assert.ok(compiled.ok, 'the rendered policies compile');
    const dep = kind(all, 'Deployment')[0]!;
    const c = dep.spec.template.spec.containers[0];
    assert.equal(c.readinessProbe.httpGet.path, '/readyz');
    assert.equal(c.livenessProbe.grpc.service, 'envoy.service.auth.v3.Authorization');
    assert.equal(c.startupProbe.httpGet.path, '/healthz');
    assert.equal(dep.spec.replicas, 2);
    assert.deepEqual(c.resources.requests, { cpu: '250m', memory: '128Mi' });
    assert.equal(c.volumeMounts.find((m: Obj) => m.name === 'policies').mountPath, config.policies.dir);
    assert.equal(c.envFrom, undefined, 'no Secret unless one is named');
    const pdb = kind(all, 'PodDisruptionBudget')[0]!;
    assert.deepEqual(pdb.spec.selector.matchLabels, dep.spec.selector.matchLabels);
    assert.equal(pdb.spec.minAvailable, 1);
    const np = kind(all, 'NetworkPolicy')[0]!;
    assert.deepEqual(np.spec.podSelector.matchLabels, dep.spec.template.metadata.labels);
    const grpcRules = np.spec.ingress.filter((r: Obj) => r.ports.some((p: Obj) => p.port === 'grpc'));
    assert.equal(grpcRules.length, 1);
    assert.deepEqual(grpcRules[0].from, [{ namespaceSelector: {}, podSelector: { matchLabels: { 'verdict.io/client': 'envoy' } } }]);
    assert.ok(np.spec.ingress.every((r: Obj) => r.from !== undefined || r.ports.every((p: Obj) => p.port !== 'grpc')), 'no open rule names the gRPC port');
    // One replica: a PDB with minAvailable 1 would block every node drain.
    assert.equal(kind(render('--set', 'replicaCount=1'), 'PodDisruptionBudget').length, 0);
  });

  it('existing ConfigMaps and Secret, Redis sessions, tracing, ServiceMonitor and the Istio CUSTOM policy as options', () => {
    const all = render(
      '--set', 'existingConfigMap=my-config',
      '--set', 'existingPoliciesConfigMap=my-policies',
      '--set', 'existingSecret=verdict-secrets',
      '--set', 'sessionStore.type=redis',
      '--set', 'serviceMonitor.enabled=true',
      '--set', 'istio.enabled=true',
      '--set', 'istio.authorizationPolicy.namespace=apps',
      '--set', 'istio.authorizationPolicy.selector.app=grafana',
      '--set', 'replicaCount=3',
    );
    assert.equal(kind(all, 'ConfigMap').length, 0, 'existing ConfigMaps are used, none rendered');
    const spec = kind(all, 'Deployment')[0]!.spec.template.spec;
    assert.equal(spec.volumes.find((v: Obj) => v.name === 'config').configMap.name, 'my-config');
    assert.equal(spec.volumes.find((v: Obj) => v.name === 'policies').configMap.name, 'my-policies');
    assert.equal(spec.volumes.find((v: Obj) => v.name === 'secrets').secret.secretName, 'verdict-secrets');
    assert.deepEqual(spec.containers[0].envFrom, [{ secretRef: { name: 'verdict-secrets' } }]);
    assert.ok(!JSON.stringify(all).includes('kind":"Secret'), 'the chart never renders a Secret');
    const sm = kind(all, 'ServiceMonitor')[0]!;
    assert.deepEqual(sm.spec.endpoints, [{ port: 'http', path: '/metrics', interval: '30s' }]);
    const ap = kind(all, 'AuthorizationPolicy')[0]!;
    assert.equal(ap.metadata.namespace, 'apps');
    assert.equal(ap.spec.action, 'CUSTOM');
    assert.equal(ap.spec.provider.name, 'verdict');
    assert.deepEqual(ap.spec.selector.matchLabels, { app: 'grafana' });

    const rendered = render('--set', 'existingSecret=s', '--set', 'sessionStore.type=redis', '--set', 'tracing.endpoint=http://otel-collector.observability:4318/v1/traces', '--set-json', 'config={"identity":{"oidc":{"issuer":"https://idp.example.com","client_id":"verdict"}},"log":{"level":"debug"}}');
    const config = JSON.parse(kind(rendered, 'ConfigMap').find((d) => d.metadata.name === 'verdict-config')!.data['verdict.json']);
    assert.deepEqual(config.identity.session.store, { type: 'redis', prefix: 'verdict:' });
    assert.equal(config.identity.oidc.issuer, 'https://idp.example.com', 'user config merged over the base');
    assert.equal(config.log.level, 'debug');
    assert.equal(config.grpc.listen, '0.0.0.0:9191', 'base kept');
    assert.deepEqual(config.telemetry.tracing, { endpoint: 'http://otel-collector.observability:4318/v1/traces', protocol: 'http/protobuf', sample_ratio: 1, service_name: 'verdict' });
    const problems = checkConfig(structuredClone(config)).filter((p) => !/url|client_secret|keys/.test(p.pointer + p.message));
    assert.deepEqual(problems, [], 'valid but for what the Secret supplies at run time');
    // The config is part of the pod template: a change rolls the pods.
    const checksum = (docs: Obj[]) => kind(docs, 'Deployment')[0]!.spec.template.metadata.annotations['checksum/config'];
    assert.notEqual(checksum(rendered), checksum(render()));
  });

  it('refuses values that cannot work', () => {
    const redis = helm(['template', 'verdict', CHART, '--set', 'sessionStore.type=redis']);
    assert.notEqual(redis.code, 0);
    assert.match(redis.stderr, /sessionStore.type=redis needs existingSecret/);
    const oidc = helm(['template', 'verdict', CHART, '--set-json', 'config={"identity":{"oidc":{"issuer":"https://idp.example.com"}}}']);
    assert.notEqual(oidc.code, 0);
    assert.match(oidc.stderr, /more than one replica needs sessionStore.type=redis/);
  });

  it('hardens the pod: non-root, read-only root file system, no privilege escalation, no capabilities, no service account token', () => {
    const pod = kind(render(), 'Deployment')[0]!.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.automountServiceAccountToken, false, 'Verdict never calls the Kubernetes API');
    for (const c of pod.containers) {
      assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
      assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
      assert.deepEqual(c.securityContext.capabilities.drop, ['ALL'], c.name);
    }
  });

  it('never renders a secret into a ConfigMap: inline client secret, session keys, Redis URL or admin token in `config` are refused', () => {
    const cases: [string, RegExp][] = [
      ['{"identity":{"oidc":{"issuer":"https://idp.example.com","client_secret":"s3cret-value"}}}', /client_secret would be rendered into a ConfigMap/],
      ['{"identity":{"session":{"keys":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]}}}', /session.keys would be rendered into a ConfigMap/],
      ['{"identity":{"session":{"store":{"type":"redis","url":"redis://:pw@redis:6379"}}}}', /store.url .* would be rendered into a ConfigMap/],
      ['{"admin":{"tokens":[{"name":"ops","token":"0123456789abcdef-admin"}]}}', /admin.tokens\[\].token would be rendered into a ConfigMap/],
    ];
    for (const [config, message] of cases) {
      const r = helm(['template', 'verdict', CHART, '--set', 'replicaCount=1', '--set-json', `config=${config}`]);
      assert.notEqual(r.code, 0, config);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stdout, /s3cret-value|:pw@|0123456789abcdef-admin|AAAAAAAAAAAA/);
    }
    const fromFile = helm(['template', 'verdict', CHART, '--set', 'replicaCount=1', '--set-json', 'config={"admin":{"tokens":[{"name":"ops","token_file":"/etc/verdict/secrets/admin"}]}}']);
    assert.equal(fromFile.code, 0, fromFile.stderr);
  });

  it('deploy/kubernetes/verdict.yaml is the chart rendered with its defaults (no second copy to drift)', () => {
    const committed = readFileSync(join(ROOT, 'deploy/kubernetes/verdict.yaml'), 'utf8');
    const body = committed.slice(committed.indexOf('\n---\n') + 1);
    const r = helm(['template', 'verdict', CHART, '--namespace', 'verdict']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(body, r.stdout, 'regenerate: see the header of deploy/kubernetes/verdict.yaml');
  });
});
