import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EXT_AUTHZ_PREFIX, type HttpAuthzRequest } from '../request/from-http.js';
import type { HttpAnswer } from '../response/http-answer.js';
import { ADMIN_PREFIX } from './admin-api.js';
import type { Metrics } from './metrics.js';

export type AuthzMode = 'envoy' | 'forward-auth' | 'direct';

export interface HttpState {
  /** Policies loaded and the gRPC server listening, and not shutting down. */
  ready(): boolean;
  /** One decision in an HTTP mode; always resolves (a deny on failure). */
  authorize(mode: AuthzMode, req: HttpAuthzRequest): Promise<HttpAnswer>;
  /** The admin API (`/admin/v1/…`). */
  admin(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** Public keys of `x-verdict-jwt-assertion`, when assertions are configured. */
  jwks(): unknown;
  /** Paths of Verdict's own browser pages (login, callback, logout), served directly. */
  browserPaths: ReadonlySet<string>;
}

/** Operations endpoints and the HTTP authorization modes (`/ext-authz/…`, `/forward-auth`). */
export class HttpServer {
  readonly server: Server;

  constructor(state: HttpState, metrics: Metrics) {
    // Envoy accepts 60 KiB of request headers by default; a browser with many cookies must
    // still reach the login and logout paths rather than get 431 from Node's 16 KiB default.
    this.server = createServer({ maxHeaderSize: 64 * 1024 }, (req, res) => {
      void this.#route(req, res, state, metrics);
    });
    // Slow or idle clients must not pin sockets forever.
    this.server.requestTimeout = 10_000;
    this.server.headersTimeout = 5_000;
  }

  async #route(req: IncomingMessage, res: ServerResponse, state: HttpState, metrics: Metrics): Promise<void> {
    const url = req.url ?? '/';
    const path = url.split('?')[0]!;
    try {
      if (path === EXT_AUTHZ_PREFIX || path.startsWith(`${EXT_AUTHZ_PREFIX}/`) || path === '/forward-auth' || state.browserPaths.has(path)) {
        const mode: AuthzMode = path === '/forward-auth' ? 'forward-auth' : state.browserPaths.has(path) ? 'direct' : 'envoy';
        const answer = await state.authorize(mode, { method: req.method ?? '', url, headers: req.headers, rawHeaders: req.rawHeaders, peerIp: req.socket.remoteAddress, peerPort: req.socket.remotePort });
        for (const [k, v] of answer.headers) res.appendHeader(k, v);
        res.writeHead(answer.status);
        res.end(answer.body);
        return;
      }
      if (path.startsWith(ADMIN_PREFIX)) return await state.admin(req, res);
      if (path === '/healthz') return text(res, 200, 'ok\n');
      if (path === '/.well-known/verdict/jwks.json') {
        const jwks = state.jwks();
        if (jwks === undefined) return text(res, 404, 'not found\n');
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' });
        res.end(JSON.stringify(jwks));
        return;
      }
      if (path === '/readyz') return state.ready() ? text(res, 200, 'ready\n') : text(res, 503, 'not ready\n');
      if (path === '/metrics') {
        const body = await metrics.render();
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

  /** Stops accepting; requests in flight finish, up to `graceMs`, then connections are cut. */
  close(graceMs = 10_000): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.closeAll(), graceMs);
      this.server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      this.server.closeIdleConnections();
    });
  }

  /** Cuts every connection now (a forced stop, or the end of the grace period). */
  closeAll(): void {
    this.server.closeAllConnections();
  }
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}
