// The upstream behind Envoy in the e2e tests: answers every request with what it
// received (method, path as sent on the wire, headers with their names as sent) and keeps
// a list of them, so a test can say exactly what reached the app and what did not.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  /** Which echo server (one per policy route `to`). */
  readonly name: string;
  readonly method: string;
  /** The request target as received, query included. */
  readonly url: string;
  /** The path part of it. */
  readonly path: string;
  /** Header names lower case, repeated values joined with `, `. */
  readonly headers: Record<string, string>;
  /** Header names exactly as Envoy sent them. */
  readonly rawNames: string[];
}

export class EchoUpstream {
  readonly received: Received[] = [];
  readonly #servers: Server[] = [];
  readonly ports = new Map<string, number>();

  /** One listening server per name (`public`, `app`, …), all recording into `received`. */
  static async start(names: string[]): Promise<EchoUpstream> {
    const echo = new EchoUpstream();
    for (const name of names) {
      const server = createServer((req, res) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        const url = req.url ?? '';
        const q = url.indexOf('?');
        const got: Received = { name, method: req.method ?? '', url, path: q < 0 ? url : url.slice(0, q), headers, rawNames: req.rawHeaders.filter((_, i) => i % 2 === 0) };
        echo.received.push(got);
        req.resume();
        req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(got)));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      echo.#servers.push(server);
      echo.ports.set(name, (server.address() as AddressInfo).port);
    }
    return echo;
  }

  url(name: string): string {
    return `http://127.0.0.1:${this.ports.get(name)}`;
  }

  async close(): Promise<void> {
    await Promise.all(
      this.#servers.map((s) => {
        s.closeAllConnections();
        return new Promise((r) => s.close(r));
      }),
    );
  }
}
