import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { authCodec } from '../envoy/codec.js';
import { AUTHORIZATION_SERVICE } from '../envoy/protos.js';
import type { CheckRequestLike } from '../request/check-request.js';

export type CheckHandler = (request: CheckRequestLike, deadlineMs: number | undefined) => Promise<Record<string, unknown>>;

/** `Authorization/Check` as grpc-js sees it, with Verdict's codec (envoy/codec.ts). */
function authorizationService(): grpc.ServiceDefinition {
  const codec = authCodec();
  return {
    Check: {
      path: `/${AUTHORIZATION_SERVICE}/Check`,
      requestStream: false,
      responseStream: false,
      requestSerialize: codec.encodeRequest,
      requestDeserialize: codec.decodeRequest,
      responseSerialize: codec.encodeResponse,
      responseDeserialize: codec.decodeResponse,
      originalName: 'check',
    },
  };
}

function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const d = call.getDeadline();
  if (d instanceof Date) return d.getTime();
  return typeof d === 'number' && Number.isFinite(d) ? d : undefined;
}

/**
 * ext_authz `Check` and `grpc.health.v1.Health` on one grpc-js server. The handler
 * always yields a CheckResponse (a deny on failure), so Envoy never falls back to
 * its error path because of us.
 */
export class GrpcServer {
  // Channelz keeps per-call statistics nobody reads here; it costs on every call.
  readonly server = new grpc.Server({ 'grpc.keepalive_permit_without_calls': 1, 'grpc.enable_channelz': 0 });
  readonly health = new HealthImplementation({ '': 'NOT_SERVING', [AUTHORIZATION_SERVICE]: 'NOT_SERVING' });

  constructor(handler: CheckHandler, onHandlerError: (e: unknown) => Record<string, unknown>) {
    this.server.addService(authorizationService(), {
      Check: (call: grpc.ServerUnaryCall<CheckRequestLike, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        handler(call.request, deadlineOf(call)).then(
          (response) => callback(null, response),
          (e: unknown) => callback(null, onHandlerError(e)),
        );
      },
    });
    this.health.addToServer(this.server as never);
  }

  /** Binds and returns the port actually bound (for `:0`). */
  listen(address: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
    });
  }

  setServing(serving: boolean): void {
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', status);
    this.health.setStatus(AUTHORIZATION_SERVICE, status);
  }

  /** Lets in-flight calls finish, up to `graceMs`, then cuts the rest. */
  shutdown(graceMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
