import { loadEnvoyRoot } from './protos.js';
import { StrictProtoJson } from './strict-proto-json.js';

/**
 * The Envoy extensions Verdict's configs use. A `typed_config` whose type is not loaded
 * here is reported as unknown, so adding an extension is a deliberate change.
 */
export const ENVOY_EXTENSION_PROTOS = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/formatter/req_without_query/v3/req_without_query.proto',
];

let cached: StrictProtoJson | undefined;

/** Loads Envoy's protos from @grpc/grpc-js-xds once (about a second). */
export function envoyValidator(): StrictProtoJson {
  if (cached) return cached;
  const root = loadEnvoyRoot(ENVOY_EXTENSION_PROTOS);
  cached = new StrictProtoJson(root);
  return cached;
}

/** Problems of a bootstrap in proto3 JSON form (as parsed from Envoy's YAML). */
export function checkBootstrap(doc: unknown): string[] {
  return envoyValidator().check('envoy.config.bootstrap.v3.Bootstrap', doc, 'bootstrap');
}
