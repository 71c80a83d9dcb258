import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { accessSync, constants } from 'node:fs';
import { isAbsolute } from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

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

/** A protobufjs root with the given Envoy protos (field names as in the .proto). */
export function loadEnvoyRoot(files: string | string[]): protobuf.Root {
  const root = new protobuf.Root();
  const dirs = envoyProtoIncludeDirs();
  const original = root.resolvePath.bind(root);
  root.resolvePath = (origin, target) => {
    if (isAbsolute(target)) return target;
    for (const dir of dirs) {
      const full = join(dir, target);
      try {
        accessSync(full, constants.R_OK);
        return full;
      } catch {
        // try the next include folder
      }
    }
    return original(origin, target);
  };
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  return root;
}
