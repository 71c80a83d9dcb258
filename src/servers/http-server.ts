import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Metrics } from './metrics.js';

export interface HttpState {
  /** Policies loaded and the gRPC server listening, and not shutting down. */
  ready(): boolean;
}

/** Operations endpoints; forward-auth and login modes hang off this same server. */
export class HttpServer {
  readonly server: Server;

  constructor(state: HttpState, metrics: Metrics) {
    this.server = createServer((req, res) => {
      void this.#route(req, res, state, metrics);
    });
    // Slow or idle clients must not pin sockets forever.
    this.server.requestTimeout = 10_000;
    this.server.headersTimeout = 5_000;
  }

  async #route(req: IncomingMessage, res: ServerResponse, state: HttpState, metrics: Metrics): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (path === '/healthz') return text(res, 200, 'ok\n');
      if (path === '/readyz') return state.ready() ? text(res, 200, 'ready\n') : text(res, 503, 'not ready\n');
      if (path === '/metrics') {
        const body = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(body);
        return;
      }
      text(res, 404, 'not found\n');
    } catch {
      if (!res.headersSent) text(res, 500, 'internal error\n');
      else res.destroy();
    }
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}
