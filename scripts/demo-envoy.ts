// The demo's Envoy config is `verdict envoy-config` for demo/verdict.json (the file
// envoy/demo.yaml holds) with the flags for one machine: Verdict's address, loopback
// listeners, TLS from the run's certificate, an admin port of the kernel's choice. One thing
// no flag covers: the policy's upstream `http://demo-app:8080` is a docker-compose service
// name, so its cluster is pointed at the demo app's loopback port here.

type Obj = Record<string, any>;

export const DEMO_APP_CLUSTER = 'upstream_demo_app_8080';

/** The generated bootstrap with the demo app's cluster on loopback; everything else untouched. */
export function localizeEnvoyConfig(generated: Obj, appPort: number): Obj {
  const cfg = structuredClone(generated) as Obj;
  const app = (cfg.static_resources.clusters as Obj[]).find((c) => c.name === DEMO_APP_CLUSTER);
  if (!app) throw new Error(`demo: no ${DEMO_APP_CLUSTER} cluster in the generated config`);
  app.type = 'STATIC';
  for (const e of app.load_assignment.endpoints as Obj[]) for (const lb of e.lb_endpoints as Obj[]) lb.endpoint.address.socket_address = { address: '127.0.0.1', port_value: appPort };
  return cfg;
}

/**
 * For comparing the demo's running config with envoy/demo.yaml: the HTTP→HTTPS redirect
 * listener, every socket address and cluster type, the listener's TLS and the redirect-free
 * rest compared as they are.
 */
export function withoutAddresses(cfg: Obj): Obj {
  const copy = structuredClone(cfg) as Obj;
  copy.static_resources.listeners = (copy.static_resources.listeners as Obj[]).filter((l) => l.name !== 'ingress_http_redirect');
  return JSON.parse(JSON.stringify(copy), (key, value) =>
    key === 'socket_address' ||
    (key === 'type' && typeof value === 'string' && /^(STATIC|STRICT_DNS|LOGICAL_DNS)$/.test(value)) ||
    (key === 'transport_socket' && JSON.stringify(value).includes('DownstreamTlsContext'))
      ? undefined
      : value,
  );
}
