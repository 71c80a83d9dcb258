// The baseline: a grpc-js ext_authz server that decodes the CheckRequest with
// proto-loader (like Verdict) and allows everything. Prints its port on stdout.
import * as grpc from '@grpc/grpc-js';
import { authPackageDefinition } from '../src/envoy/protos.js';

const pkg = grpc.loadPackageDefinition(authPackageDefinition()) as unknown as {
  envoy: { service: { auth: { v3: { Authorization: { service: grpc.ServiceDefinition } } } } };
};
const server = new grpc.Server();
server.addService(pkg.envoy.service.auth.v3.Authorization.service, {
  Check: (_call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => cb(null, { status: { code: 0 }, ok_response: {} }),
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`listening ${port}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
