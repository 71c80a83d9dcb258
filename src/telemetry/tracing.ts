// OpenTelemetry traces of decisions (`telemetry.tracing`). check.ts sees only the
// DecisionTracing interface below; this file owns the SDK: the W3C context Envoy sent, the
// sampler, the bounded batch export over OTLP, and counting what was dropped.
import { readFileSync } from 'node:fs';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace, type Attributes, type Context, type Span, type TextMapGetter, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as OtlpGrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OtlpHttpExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { Metadata } from '@grpc/grpc-js';
import { VerdictError } from '../errors.js';
import { TRACER_NAME } from './spans.js';

/** A step's span, for the attributes only the step knows (cache hit, identity kind). */
export interface StepSpan {
  setAttributes(attributes: Attributes): unknown;
}

/** One decision's trace: `verdict.check` and its children. */
export interface DecisionTrace {
  /** W3C ids of `verdict.check` (also when not sampled: the trace id still joins Envoy's). */
  readonly traceId: string;
  readonly spanId: string;
  /** Runs `fn` in a child span (identity, policy, audit); the child is active while it runs. */
  step<T>(name: string, fn: (span: StepSpan | undefined) => Promise<T>): Promise<T>;
  stepSync<T>(name: string, fn: (span: StepSpan | undefined) => T): T;
  /** Ends `verdict.check` with the decision's attributes. */
  end(attributes: Attributes, failed: boolean): void;
}

/** What check.ts calls; absent when tracing is off (then nothing here runs at all). */
export interface DecisionTracing {
  start(headers: ReadonlyMap<string, string>, startTimeMs: number, attributes: Attributes): DecisionTrace | undefined;
}

export interface TracingConfig {
  readonly endpoint: string;
  readonly protocol: 'http/protobuf' | 'grpc';
  readonly sample_ratio: number;
  readonly service_name: string;
  readonly headers_file?: string | undefined;
  readonly max_queue_size: number;
  readonly export_timeout: number;
}

export type DropReason = 'queue_full' | 'export_failed';

const headerGetter: TextMapGetter<ReadonlyMap<string, string>> = {
  keys: (carrier) => [...carrier.keys()],
  get: (carrier, key) => carrier.get(key),
};

/** `name: value` lines (e.g. an API key for a hosted collector); read once, never logged. */
export function readHeadersFile(path: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new VerdictError('CONFIG_INVALID', 'cannot read telemetry.tracing.headers_file', { cause: e, problems: [{ file: path, pointer: '', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }] });
  }
  const out: Record<string, string> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*:\s*(.*)$/.exec(line);
    // The line is not echoed: it may hold a secret.
    if (!m) throw new VerdictError('CONFIG_INVALID', 'bad telemetry.tracing.headers_file', { problems: [{ file: path, pointer: '', message: `line ${i + 1} is not "name: value"` }] });
    out[m[1]!.toLowerCase()] = m[2]!;
  }
  return out;
}

/**
 * Bounds what waits for export: spans queued plus spans in an export still running. Past
 * the bound a span is dropped and counted, so a collector that is away costs memory up to
 * the bound and nothing more; the decision never waits for it.
 */
class BoundedExport implements SpanProcessor, SpanExporter {
  #pending = 0;
  readonly #batch: BatchSpanProcessor;

  constructor(
    readonly exporter: SpanExporter,
    readonly max: number,
    exportTimeoutMs: number,
    readonly onDrop: (n: number, reason: DropReason) => void,
  ) {
    this.#batch = new BatchSpanProcessor({ exporter: this, maxQueueSize: max, maxExportBatchSize: Math.min(512, max), scheduledDelayMillis: 1000, exportTimeoutMillis: exportTimeoutMs });
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & 1) === 0) return;
    if (this.#pending >= this.max) {
      this.onDrop(1, 'queue_full');
      return;
    }
    this.#pending++;
    this.#batch.onEnd(span);
  }

  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    let settled = false;
    const settle = (r: ExportResult) => {
      if (settled) return;
      settled = true;
      this.#pending -= spans.length;
      if (r.code !== ExportResultCode.SUCCESS) this.onDrop(spans.length, 'export_failed');
      done(r);
    };
    try {
      this.exporter.export(spans, settle);
    } catch (e) {
      settle({ code: ExportResultCode.FAILED, error: e as Error });
    }
  }

  get pending(): number {
    return this.#pending;
  }

  forceFlush(): Promise<void> {
    return this.#batch.forceFlush();
  }

  async shutdown(): Promise<void> {
    // Called twice (as processor, then by the batch processor as its exporter): once is enough.
    if (this.#shut) return;
    this.#shut = true;
    await this.#batch.shutdown().catch(() => undefined);
    await this.exporter.shutdown().catch(() => undefined);
  }
  #shut = false;
}

class Trace implements DecisionTrace {
  readonly traceId: string;
  readonly spanId: string;
  readonly #span: Span;
  readonly #ctx: Context;
  readonly #tracer: Tracer;

  constructor(tracer: Tracer, span: Span, parent: Context) {
    this.#tracer = tracer;
    this.#span = span;
    this.#ctx = trace.setSpan(parent, span);
    const sc = span.spanContext();
    this.traceId = sc.traceId;
    this.spanId = sc.spanId;
  }

  step<T>(name: string, fn: (span: StepSpan | undefined) => Promise<T>): Promise<T> {
    // Not sampled: no children (they would not be exported), just the work.
    if (!this.#span.isRecording()) return fn(undefined);
    const span = this.#tracer.startSpan(name, undefined, this.#ctx);
    return context.with(trace.setSpan(this.#ctx, span), async () => {
      try {
        return await fn(span);
      } catch (e) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? `${e.name}: ${e.message}` : 'failed' });
        throw e;
      } finally {
        span.end();
      }
    });
  }

  stepSync<T>(name: string, fn: (span: StepSpan | undefined) => T): T {
    if (!this.#span.isRecording()) return fn(undefined);
    const span = this.#tracer.startSpan(name, undefined, this.#ctx);
    try {
      return fn(span);
    } finally {
      span.end();
    }
  }

  end(attributes: Attributes, failed: boolean): void {
    if (this.#span.isRecording()) {
      this.#span.setAttributes(attributes);
      if (failed) this.#span.setStatus({ code: SpanStatusCode.ERROR, message: String(attributes['verdict.detail'] ?? 'internal error') });
    }
    this.#span.end();
  }
}

export interface RunningTracing extends DecisionTracing {
  /** Spans waiting for export (queued or in flight). */
  readonly pending: number;
  /** Exports what is queued (bounded by the export timeout). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Starts the SDK. Registers an AsyncLocalStorage context manager (only now: with tracing
 * off none exists, and `childSpan` finds no active span) so identity's child spans find
 * their decision.
 */
export function startTracing(config: TracingConfig, onDrop: (n: number, reason: DropReason) => void): RunningTracing {
  const headers = config.headers_file ? readHeadersFile(config.headers_file) : {};
  const timeoutMillis = config.export_timeout;
  let exporter: SpanExporter;
  if (config.protocol === 'grpc') {
    const metadata = new Metadata();
    for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
    exporter = new OtlpGrpcExporter({ url: config.endpoint, metadata, timeoutMillis });
  } else {
    exporter = new OtlpHttpExporter({ url: config.endpoint, headers, timeoutMillis });
  }
  const bounded = new BoundedExport(exporter, config.max_queue_size, timeoutMillis, onDrop);
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.service_name }),
    // Envoy's sampled flag decides for requests it traced; the ratio for those it did not.
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sample_ratio) }),
    spanProcessors: [bounded],
  });
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  trace.setGlobalTracerProvider(provider);
  const tracer = provider.getTracer(TRACER_NAME);
  const propagator = new W3CTraceContextPropagator();
  return {
    start(requestHeaders, startTimeMs, attributes) {
      try {
        const parent = propagator.extract(ROOT_CONTEXT, requestHeaders, headerGetter);
        const span = tracer.startSpan('verdict.check', { kind: SpanKind.SERVER, startTime: startTimeMs, attributes }, parent);
        return new Trace(tracer, span, parent);
      } catch {
        // Tracing never fails a decision.
        return undefined;
      }
    },
    get pending() {
      return bounded.pending;
    },
    flush: () => provider.forceFlush().catch(() => undefined),
    async shutdown() {
      await provider.shutdown().catch(() => undefined);
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
