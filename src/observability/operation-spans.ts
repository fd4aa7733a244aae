import { SpanStatusCode, trace } from "@opentelemetry/api";
import { getOperationAST } from "graphql";
import type { Plugin } from "graphql-yoga";

const tracer = trace.getTracer("orgraph");

/** Operation names are the caller's: a span name stays short whatever they send. */
const MAX_NAME_LENGTH = 100;

/**
 * One span per GraphQL operation, covering parse, validation, the context (which
 * authenticates the caller) and execution, so that every SpiceDB and SQL span of the
 * operation is its child. Named as OpenTelemetry's GraphQL conventions say (`query Viewer`;
 * "GraphQL Operation" until the document is parsed). The document and the variables are
 * never recorded: they carry ids, emails and secrets.
 *
 * Hand-written rather than @envelop/opentelemetry (not installed): that plugin depends on
 * sdk-trace-base 1.x beside the SDK's 2.x, records the document by default, names its
 * attributes graphql.execute.* and starts at execution, after the caller is authenticated.
 */
export function useOperationSpans(): Plugin {
  return {
    instrumentation: {
      operation: (_payload, wrapped) =>
        tracer.startActiveSpan("GraphQL Operation", async (span) => {
          try {
            await wrapped();
          } catch (error) {
            span.setStatus({ code: SpanStatusCode.ERROR });
            throw error;
          } finally {
            span.end();
          }
        }),
    },
    onExecute: ({ args }) => {
      const operation = getOperationAST(args.document, args.operationName);
      const span = trace.getActiveSpan();
      if (!operation || !span) return;
      const name = operation.name?.value.slice(0, MAX_NAME_LENGTH);
      span.updateName(name ? `${operation.operation} ${name}` : operation.operation);
      span.setAttribute("graphql.operation.type", operation.operation);
      if (name) span.setAttribute("graphql.operation.name", name);
    },
  };
}
