import { isSpanContextValid, trace } from "@opentelemetry/api";
import pino from "pino";

export type Logger = pino.Logger;

/**
 * JSON lines to stdout (or `destination`). A request's lines carry its requestId (its child
 * logger, observability/request-id.ts) and, when tracing is on, the trace and span they
 * were written in; without a tracer provider there is never an active span, so nothing more.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: "orgraph" }, mixin: traceIds }, destination);
}

function traceIds(): Record<string, string> {
  const span = trace.getActiveSpan()?.spanContext();
  return span && isSpanContextValid(span) ? { traceId: span.traceId, spanId: span.spanId } : {};
}
