import { request } from 'node:http';
import { connect } from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A plain HTTP request where every header is ours to set (fetch refuses to set Host)
 * and the path goes out byte for byte (a URL object would resolve `%2e%2e` first).
 */
export function httpRequest(url: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<RawResponse> {
  const m = /^http:\/\/([^/:]+):(\d+)(\/.*)?$/.exec(url);
  if (!m) throw new Error(`httpRequest takes http://host:port/path, got ${url}`);
  return new Promise((resolve, reject) => {
    const req = request({ host: m[1], port: Number(m[2]), path: m[3] ?? '/', method: init.method ?? 'GET', headers: init.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Sends `head` (request line and headers, `\r\n`-separated, without the blank line) byte
 * for byte over a fresh connection: repeated or odd headers that no HTTP client library
 * would send. Resolves with the status code and the raw response text.
 */
export function rawHttp(port: number, head: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`${head}\r\nconnection: close\r\n\r\n`));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', reject);
    socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0), text }));
  });
}
