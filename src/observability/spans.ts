import { INVALID_SPAN_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Span } from "@opentelemetry/api";

const tracer = trace.getTracer("orgraph");
/** What `call` gets when untraced: it records nothing. */
const UNTRACED = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Runs `call` in a client span, child of the active one. Outside a traced request (startup,
 * background flushes: no active span) it runs untraced, as the pg instrumentation does with
 * requireParentSpan, so the trace backend receives requests, not timers.
 *
 * A failure is recorded as its type only: error messages name objects (SpiceDB's "could not
 * check team:…#…@user:…") and, from Postgres, can quote an input value.
 */
export function inClientSpan<T>(name: string, attributes: Attributes, call: (span: Span) => Promise<T>): Promise<T> {
  if (!trace.getActiveSpan()) return call(UNTRACED);
  return tracer.startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      return await call(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.setAttribute("error.type", errorType(error));
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Postgres' SQLSTATE or gRPC's status code when there is one, else the error's class. */
function errorType(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" || typeof code === "number") return String(code);
  return error instanceof Error ? error.name : "unknown";
}
