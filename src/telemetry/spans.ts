// Child spans for code below check.ts (identity: token cache, JWKS fetch, session store).
// They join whatever span is active. Tracing off means no context manager is registered,
// so `trace.getActiveSpan()` is a map lookup that finds nothing: no span objects, no
// context work, the function runs as it is.
import { SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

export const TRACER_NAME = 'verdict';

/** Runs `fn` in a child span of the active one; just runs `fn` when nothing is traced. */
export function childSpan<T>(name: string, attributes: Attributes | undefined, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  const parent = trace.getActiveSpan();
  if (parent === undefined || !parent.isRecording()) return fn(undefined);
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (e) {
      // The error's class and message only: never the inputs (tokens, cookies) it may refer to.
      span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? `${e.name}: ${e.message}` : 'failed' });
      throw e;
    } finally {
      span.end();
    }
  });
}

/** Whether a span is recording now (then child spans are made; else code may skip them). */
export function recording(): boolean {
  const span = trace.getActiveSpan();
  return span !== undefined && span.isRecording();
}

/** Adds attributes to the active span (e.g. `verdict.token_cache_hit`), when one records. */
export function annotate(attributes: Attributes): void {
  const span = trace.getActiveSpan();
  if (span !== undefined && span.isRecording()) span.setAttributes(attributes);
}
