import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_LOADER_OPTIONS } from '../../src/envoy/protos.js';

export interface CheckResponseJs {
  status?: { code?: number; message?: string };
  ok_response?: { headers?: { header: { key: string; value: string }; append?: { value: boolean } }[]; headers_to_remove?: string[] };
  denied_response?: { status?: { code: number }; headers?: { header: { key: string; value: string }; append?: { value: boolean } }[]; body?: string };
  dynamic_metadata?: { fields?: Record<string, { stringValue?: string; numberValue?: number; listValue?: { values: { stringValue?: string }[] } }> };
}

type Unary = (req: unknown, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: CheckResponseJs) => void) => void;

/** A real grpc-js client of envoy.service.auth.v3.Authorization, built from Envoy's protos. */
export function authClient(port: number): { check(req: unknown, deadlineMs?: number): Promise<CheckResponseJs>; close(): void } {
  // Decoded as Envoy sees it: enums as numbers (401, not "Unauthorized").
  const def = protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', { ...PROTO_LOADER_OPTIONS, enums: Number });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } };
  };
  const client = new pkg.envoy.service.auth.v3.Authorization(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & { Check: Unary };
  return {
    check(req, deadlineMs = 5000) {
      return new Promise((resolve, reject) =>
        client.Check(req, { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res))),
      );
    },
    close() {
      client.close();
    },
  };
}

export interface EnvoyRequestInit {
  method?: string;
  host?: string;
  path?: string;
  headers?: Record<string, string>;
  route?: string;
  sourceIp?: string;
  sourcePort?: number;
  requestId?: string;
}

let counter = 0;

/**
 * A CheckRequest shaped as Envoy sends it: pseudo-headers inside `headers`, the query
 * inside `path`, `x-request-id`, the downstream socket address as `source`.
 */
export function envoyCheckRequest(init: EnvoyRequestInit = {}): Record<string, unknown> {
  const method = init.method ?? 'GET';
  const host = init.host ?? 'grafana.example.com';
  const path = init.path ?? '/';
  const requestId = init.requestId ?? `req-${process.pid}-${++counter}`;
  return {
    attributes: {
      source: { address: { socket_address: { address: init.sourceIp ?? '100.101.1.2', port_value: init.sourcePort ?? 51234 } } },
      destination: { address: { socket_address: { address: '10.0.0.5', port_value: 8080 } } },
      request: {
        time: { seconds: String(Math.floor(Date.now() / 1000)), nanos: 0 },
        http: {
          id: String(counter),
          method,
          headers: {
            ':authority': host,
            ':method': method,
            ':path': path,
            ':scheme': 'https',
            'user-agent': 'curl/8.5.0',
            accept: '*/*',
            'x-forwarded-proto': 'https',
            'x-request-id': requestId,
            ...init.headers,
          },
          path,
          host,
          scheme: 'https',
          protocol: 'HTTP/2',
        },
      },
      context_extensions: init.route === undefined ? {} : { route: init.route },
    },
  };
}

export function headerValue(list: { header: { key: string; value: string } }[] | undefined, key: string): string | undefined {
  return list?.find((h) => h.header.key === key)?.header.value;
}
