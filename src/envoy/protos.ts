import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

/** Envoy's API protos as shipped by `@grpc/grpc-js-xds`; never copied into this repo. */
export function envoyProtoIncludeDirs(): string[] {
  const root = dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  return ['envoy-api', 'googleapis', 'protoc-gen-validate', 'xds'].map((d) => join(root, 'deps', d));
}

/**
 * Field names stay as in the .proto (`ok_response`, `string_value`): the shapes in
 * request/check-request.ts and response/check-response.ts rely on it.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: envoyProtoIncludeDirs(),
};

let cached: protoLoader.PackageDefinition | undefined;

/** The package definition of `envoy.service.auth.v3` (loaded once; slow-ish, ~100 ms). */
export function authPackageDefinition(): protoLoader.PackageDefinition {
  cached ??= protoLoader.loadSync('envoy/service/auth/v3/external_auth.proto', PROTO_LOADER_OPTIONS);
  return cached;
}

export const AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';
