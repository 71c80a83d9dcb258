import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './nginx.js';
import { tempDir } from './tmp.js';
import { toolPath } from './tools.js';

/** One span as the collector forwarded it (OTLP JSON), attributes flattened to plain values. */
export interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string | undefined;
  name: string;
  kind: number;
  status: { code?: number; message?: string };
  attributes: Record<string, unknown>;
  service: unknown;
}

interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
}

function plain(v: AnyValue | undefined): unknown {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(plain);
  return undefined;
}

function attrs(list: { key: string; value: AnyValue }[] | undefined): Record<string, unknown> {
  return Object.fromEntries((list ?? []).map((a) => [a.key, plain(a.value)]));
}

export interface Collector {
  /** OTLP/HTTP traces URL (`http://127.0.0.1:port/v1/traces`). */
  readonly httpEndpoint: string;
  /** OTLP/gRPC endpoint (`http://127.0.0.1:port`). */
  readonly grpcEndpoint: string;
  /** Every span the collector has passed on so far. */
  spans(): ExportedSpan[];
  /** Polls (bounded) until `pick` finds what it wants among the spans. */
  waitFor<T>(pick: (spans: ExportedSpan[]) => T | undefined, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

/**
 * A real OpenTelemetry Collector (test/tools/otelcol: OTLP receiver, gRPC and HTTP) that
 * passes what it receives on, as OTLP JSON, to a small HTTP sink in this process: the
 * tests read exactly what a tracing backend would be given.
 */
export async function startCollector(): Promise<Collector> {
  const received: ExportedSpan[] = [];
  const sink: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      try {
        const doc = JSON.parse(body) as { resourceSpans?: { resource?: { attributes?: [] }; scopeSpans?: { spans?: Record<string, unknown>[] }[] }[] };
        for (const rs of doc.resourceSpans ?? []) {
          const service = attrs(rs.resource?.attributes)['service.name'];
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              received.push({
                traceId: String(s.traceId ?? ''),
                spanId: String(s.spanId ?? ''),
                parentSpanId: String(s.parentSpanId ?? ''),
                traceState: (s.traceState as string | undefined) || undefined,
                name: String(s.name),
                kind: Number(s.kind ?? 0),
                status: (s.status as ExportedSpan['status']) ?? {},
                attributes: attrs(s.attributes as { key: string; value: AnyValue }[]),
                service,
              });
            }
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
  const sinkPort = (sink.address() as { port: number }).port;
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const t = tempDir('verdict-otelcol-');
  // JSON is YAML: the collector reads it as its config file.
  const config = t.write('otelcol.yaml', {
    receivers: { otlp: { protocols: { grpc: { endpoint: `127.0.0.1:${grpcPort}` }, http: { endpoint: `127.0.0.1:${httpPort}` } } } },
    exporters: {
      otlphttp: {
        endpoint: `http://127.0.0.1:${sinkPort}`,
        encoding: 'json',
        compression: 'none',
        retry_on_failure: { enabled: false },
      },
    },
    service: {
      // No self-metrics server (it would take the fixed port 8888).
      telemetry: { metrics: { level: 'none' }, logs: { level: 'warn' } },
      pipelines: { traces: { receivers: ['otlp'], exporters: ['otlphttp'] } },
    },
  });
  let stderr = '';
  const child: ChildProcess = spawn(toolPath('otelcol-verdict'), ['--config', `file:${config}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  let exited = false;
  child.on('exit', () => (exited = true));
  const accepts = (port: number) =>
    new Promise<boolean>((r) => {
      const s = createConnection(port, '127.0.0.1', () => {
        s.end();
        r(true);
      });
      s.on('error', () => r(false));
    });
  const deadline = Date.now() + 20_000;
  while (!((await accepts(httpPort)) && (await accepts(grpcPort)))) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      sink.close();
      throw new Error(`the collector did not start: ${stderr}`);
    }
    await sleep(50);
  }
  return {
    httpEndpoint: `http://127.0.0.1:${httpPort}/v1/traces`,
    grpcEndpoint: `http://127.0.0.1:${grpcPort}`,
    spans: () => [...received],
    async waitFor(pick, timeoutMs = 15_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const found = pick([...received]);
        if (found !== undefined) return found;
        if (Date.now() > end) throw new Error(`not exported within ${timeoutMs} ms; spans so far: ${received.map((s) => s.name).join(', ')}; collector: ${stderr.slice(-500)}`);
        await sleep(50);
      }
    },
    async stop() {
      if (!exited) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([gone, sleep(5000).then(() => child.kill('SIGKILL'))]);
      }
      sink.closeAllConnections();
      await new Promise((r) => sink.close(r));
    },
  };
}
