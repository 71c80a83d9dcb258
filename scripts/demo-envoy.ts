// The demo's Envoy config is `verdict envoy-config` for demo/verdict.json (the file
// envoy/demo.yaml holds), with only addresses and ports changed for one machine: the
// docker-compose service names (`verdict`, `demo-app`) become loopback ports, the listener
// binds loopback only, and the admin port is chosen by the kernel. TLS from certificate
// files made for the run is added to the listener (so `__Host-` cookies behave as in
// production) while the generated config has no TLS of its own.

type Obj = Record<string, any>;

export interface LocalPorts {
  /** Envoy's listener (the port the browser uses). */
  readonly listen: number;
  /** Verdict's gRPC port. */
  readonly verdict: number;
  /** The demo app's port (the `demo-app:8080` upstream of the demo policy). */
  readonly app: number;
}

const loopback = (port: number) => ({ address: '127.0.0.1', port_value: port });

/** The generated bootstrap with its addresses moved to loopback; everything else untouched. */
export function localizeEnvoyConfig(generated: Obj, ports: LocalPorts, tls?: { certFile: string; keyFile: string }): Obj {
  const cfg = structuredClone(generated) as Obj;
  cfg.admin.address.socket_address = loopback(0);
  const listeners = cfg.static_resources.listeners as Obj[];
  if (listeners.length !== 1) throw new Error(`demo: expected one listener in the generated config, found ${listeners.length}`);
  listeners[0]!.address.socket_address = loopback(ports.listen);
  if (tls) {
    for (const chain of listeners[0]!.filter_chains as Obj[]) {
      chain.transport_socket ??= {
        name: 'envoy.transport_sockets.tls',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
          common_tls_context: { tls_certificates: [{ certificate_chain: { filename: tls.certFile }, private_key: { filename: tls.keyFile } }] },
        },
      };
    }
  }
  for (const c of cfg.static_resources.clusters as Obj[]) {
    const target = c.name === 'verdict' ? ports.verdict : c.name === 'upstream_demo_app_8080' ? ports.app : undefined;
    if (target === undefined) throw new Error(`demo: unexpected cluster ${c.name} in the generated config`);
    c.type = 'STATIC';
    for (const e of c.load_assignment.endpoints as Obj[]) for (const lb of e.lb_endpoints as Obj[]) lb.endpoint.address.socket_address = loopback(target);
  }
  return cfg;
}

/**
 * For comparing two configs up to addresses and the listener's TLS: every socket address,
 * cluster type and downstream transport socket removed.
 */
export function withoutAddresses(cfg: Obj): Obj {
  return JSON.parse(JSON.stringify(cfg), (key, value) =>
    key === 'socket_address' ||
    (key === 'type' && typeof value === 'string' && /^(STATIC|STRICT_DNS|LOGICAL_DNS)$/.test(value)) ||
    (key === 'transport_socket' && JSON.stringify(value).includes('DownstreamTlsContext'))
      ? undefined
      : value,
  );
}
