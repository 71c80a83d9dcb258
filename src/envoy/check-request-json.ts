import type { CheckRequestLike, HeaderValueLike } from '../request/check-request.js';
import { loadEnvoyRoot } from './protos.js';
import { StrictProtoJson } from './strict-proto-json.js';

let strict: StrictProtoJson | undefined;

/**
 * Unknown fields of a CheckRequest in proto3 JSON form, checked against Envoy's own protos: a
 * misplaced or misspelt field (`context_extensions` beside `attributes` instead of inside it,
 * `header` for `headers`) is reported, not silently dropped into a different decision. Value
 * forms stay as lenient as the reader (a `time` as `{seconds, nanos}` is read too).
 */
export function checkRequestJsonProblems(json: unknown): string[] {
  strict ??= new StrictProtoJson(loadEnvoyRoot(['envoy/service/auth/v3/external_auth.proto']));
  return strict.check('envoy.service.auth.v3.CheckRequest', json, 'CheckRequest').filter((p) => p.includes(': unknown field of '));
}

type Obj = Record<string, unknown>;

const camel = (snake: string): string => snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** proto3 JSON accepts both the lowerCamelCase and the original field name. */
function field(o: unknown, name: string): unknown {
  if (o === null || typeof o !== 'object') return undefined;
  const r = o as Obj;
  return r[camel(name)] ?? r[name];
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function stringMap(v: unknown): Record<string, string> | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Obj)) if (typeof val === 'string') out[k] = val;
  return out;
}

/**
 * An Envoy CheckRequest in proto3 JSON form (what `verdict explain` reads) → the
 * proto-loader shape that the gRPC path produces, so both take the same road.
 * Map keys (headers, context_extensions) are data and are kept as they are.
 */
export function checkRequestFromJson(json: unknown): CheckRequestLike {
  const attributes = field(json, 'attributes');
  const http = field(field(attributes, 'request'), 'http');
  const socket = field(field(field(attributes, 'source'), 'address'), 'socket_address');
  const dest = field(field(field(attributes, 'destination'), 'address'), 'socket_address');
  const headerList = field(field(http, 'header_map'), 'headers');
  const portRaw = field(socket, 'port_value');
  return {
    attributes: {
      source: socket === undefined ? undefined : { address: { socket_address: { address: str(field(socket, 'address')), port_value: typeof portRaw === 'number' || typeof portRaw === 'string' ? portRaw : undefined } } },
      destination: dest === undefined ? undefined : { address: { socket_address: { address: str(field(dest, 'address')) } } },
      request: {
        http:
          http === undefined || http === null
            ? undefined
            : {
                id: str(field(http, 'id')),
                method: str(field(http, 'method')),
                headers: stringMap(field(http, 'headers')),
                header_map: Array.isArray(headerList)
                  ? { headers: headerList.map((h): HeaderValueLike => ({ key: str(field(h, 'key')), value: str(field(h, 'value')), raw_value: str(field(h, 'raw_value')) })) }
                  : undefined,
                path: str(field(http, 'path')),
                host: str(field(http, 'host')),
                scheme: str(field(http, 'scheme')),
                protocol: str(field(http, 'protocol')),
              },
      },
      context_extensions: stringMap(field(attributes, 'context_extensions')),
    },
  };
}
