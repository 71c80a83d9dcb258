import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { authCodec } from '../envoy/codec.js';
import { AUTHORIZATION_SERVICE } from '../envoy/protos.js';
import type { CheckRequestLike } from '../request/check-request.js';
import { HealthService } from './health-service.js';
import { ReadDelay } from './read-delay.js';

let quieted = false;
/**
 * grpc-js logs a failed bind itself ("E No address added out of total 1 resolved") before it
 * hands the same failure to the callback, where `serve` reports it as its one-line refusal
 * naming the setting. That one message is dropped; every other grpc-js log goes on as before.
 */
function quietBindFailures(): void {
  if (quieted) return;
  quieted = true;
  // grpc-js's own default logger, less the one message.
  const line = (prefix: string) => (message?: unknown, ...rest: unknown[]) => console.error(`${prefix} ${String(message)}`, ...rest);
  const error = line('E');
  grpc.setLogger({
    error: (message?: unknown, ...rest: unknown[]) => {
      if (typeof message === 'string' && message.startsWith('No address added out of total')) return;
      error(message, ...rest);
    },
    info: line('I'),
    debug: line('D'),
  });
}

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

const readDelay = new ReadDelay();

/** The call's deadline, moved earlier by the time it may have waited unread (read-delay.ts). */
function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const d = call.getDeadline();
  const ms = d instanceof Date ? d.getTime() : typeof d === 'number' && Number.isFinite(d) ? d : undefined;
  return ms === undefined ? undefined : readDelay.deadline(ms);
}

/** What one client may make the server hold: `grpc.*` in the config. */
export interface GrpcLimits {
  readonly maxMessageBytes: number;
  readonly maxConcurrentStreams: number;
  readonly maxSessionMemoryMb: number;
}

/** Server TLS; with a client CA, only clients with a certificate it signed get in (mTLS). */
export interface GrpcTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile: string | undefined;
}

export function serverCredentials(tls: GrpcTls | undefined): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const ca = tls.clientCaFile === undefined ? null : readFileSync(tls.clientCaFile);
  return grpc.ServerCredentials.createSsl(ca, [{ cert_chain: readFileSync(tls.certFile), private_key: readFileSync(tls.keyFile) }], ca !== null);
}

/**
 * ext_authz `Check` and `grpc.health.v1.Health` on one grpc-js server. The handler
 * always yields a CheckResponse (a deny on failure), so Envoy never falls back to
 * its error path because of us.
 */
export class GrpcServer {
  // Channelz keeps per-call statistics nobody reads here; it costs on every call.
  readonly server: grpc.Server;
  readonly health = new HealthService({ '': 'NOT_SERVING', [AUTHORIZATION_SERVICE]: 'NOT_SERVING' });

  /** `onAnswered`: an answer was handed to grpc-js (serialized and framed), for the cost of answering. */
  constructor(handler: CheckHandler, onHandlerError: (e: unknown) => Record<string, unknown>, limits: GrpcLimits, onAnswered?: () => void) {
    this.server = new grpc.Server({
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.enable_channelz': 0,
      // The port needs no credentials by default: one stream must not make us hold megabytes.
      // A larger message is refused with RESOURCE_EXHAUSTED before it is buffered whole.
      'grpc.max_receive_message_length': limits.maxMessageBytes,
      'grpc.max_send_message_length': limits.maxMessageBytes,
      'grpc.max_concurrent_streams': limits.maxConcurrentStreams,
      'grpc-node.max_session_memory': limits.maxSessionMemoryMb,
    });
    this.server.addService(authorizationService(), {
      Check: (call: grpc.ServerUnaryCall<CheckRequestLike, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        let answer: Promise<Record<string, unknown>>;
        try {
          answer = handler(call.request, deadlineOf(call));
        } catch (e) {
          answer = Promise.reject(e);
        }
        answer.then(
          (response) => {
            callback(null, response);
            onAnswered?.();
          },
          (e: unknown) => {
            callback(null, onHandlerError(e));
            onAnswered?.();
          },
        );
      },
    });
    this.health.addToServer(this.server);
  }

  /** Binds and returns the port actually bound (for `:0`). */
  listen(address: string, credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
    quietBindFailures();
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port)));
    });
  }

  setServing(serving: boolean): void {
    const status = serving ? 'SERVING' : 'NOT_SERVING';
    this.health.setStatus('', status);
    this.health.setStatus(AUTHORIZATION_SERVICE, status);
  }

  /**
   * Lets in-flight calls finish, up to `graceMs`, then cuts the rest. Health Watch streams
   * never finish by themselves: their watchers get NOT_SERVING and the streams are ended
   * first, so they do not hold shutdown for the whole grace period.
   */
  shutdown(graceMs: number): Promise<void> {
    this.health.endWatches();
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
