import type * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';

type WatchCall = grpc.ServerWritableStream<{ service: string }, { status: string }>;

/**
 * `grpc.health.v1.Health` that can end its Watch streams. A Watch (Envoy's and Kubernetes'
 * gRPC health checks) never ends on its own, so grpc-js's graceful shutdown would wait for
 * it for the whole grace period. At shutdown each watcher is told NOT_SERVING, then its
 * stream is closed with OK; a Watch opened after that gets NOT_SERVING and is closed at once.
 */
export class HealthService extends HealthImplementation {
  readonly #watches = new Set<WatchCall>();
  #ended = false;

  override addToServer(server: grpc.Server): void {
    // Wrap the library's handlers: its `watch` is kept, and the call is remembered.
    const wrapping = {
      addService: (service: grpc.ServiceDefinition, impl: Record<string, grpc.UntypedHandleCall>) => {
        const watch = impl.watch as grpc.handleServerStreamingCall<{ service: string }, { status: string }>;
        server.addService(service, {
          ...impl,
          watch: (call: WatchCall) => {
            if (this.#ended) {
              call.write({ status: 'NOT_SERVING' });
              call.end();
              return;
            }
            this.#watches.add(call);
            const forget = () => this.#watches.delete(call);
            call.on('cancelled', forget);
            call.on('finish', forget);
            call.on('error', forget);
            watch(call);
          },
        });
      },
    };
    super.addToServer(wrapping as unknown as grpc.Server);
  }

  /** Open Watch streams (tests, metrics). */
  get watchCount(): number {
    return this.#watches.size;
  }

  /** Every watcher sees NOT_SERVING, then its stream ends; later Watches end at once. */
  endWatches(): void {
    this.#ended = true;
    for (const service of ['', ...this.#services()]) this.setStatus(service, 'NOT_SERVING');
    for (const call of this.#watches) call.end();
    this.#watches.clear();
  }

  #services(): string[] {
    return [...(this as unknown as { statusMap: Map<string, string> }).statusMap.keys()].filter((s) => s !== '');
  }
}
