import { randomUUID } from "node:crypto";
import { SpanStatusCode, trace } from "@opentelemetry/api";
import { GraphQLError } from "graphql";
import { handleStreamOrSingleExecutionResult, type Plugin } from "graphql-yoga";
import type { AppContext } from "../context.js";
import { SPEC_CODES } from "../errors.js";
import type { Logger } from "../logger.js";
import { asBadUserInput } from "./input-errors.js";


interface GraphQLErrorShape {
  name?: string;
  extensions?: Record<string, unknown>;
  originalError?: unknown;
}

const isGraphQLErrorShape = (value: unknown) => (value as GraphQLErrorShape | undefined)?.name === "GraphQLError";

/** Errors this file made: masking them again would log them twice under two ids. */
const masked = new WeakSet<object>();

/**
 * Expected failures carry one of the spec's codes and pass through. GraphQL's own complaints
 * about the request (syntax, validation, variable values) are the caller's input:
 * BAD_USER_INPUT. Anything else is logged on `logger` (the request's: the line carries its
 * requestId, and its traceId when tracing) and reaches the caller as "Unexpected error."
 * with an id to find that line. (Checked by shape, not with instanceof, which breaks when the
 * graphql package is loaded twice.)
 */
export function maskError(error: unknown, logger: Logger): Error {
  if (masked.has(error as object)) return error as Error;
  const graphQLError = error as GraphQLErrorShape;
  const code = graphQLError.extensions?.code;
  if (typeof code === "string" && SPEC_CODES.has(code)) return error as Error;
  if (graphQLError.name === "GraphQLError" && (!graphQLError.originalError || isGraphQLErrorShape(graphQLError.originalError))) {
    return asBadUserInput(error as GraphQLError);
  }
  const errorId = randomUUID();
  logger.error({ err: graphQLError.originalError ?? error, errorId }, "unexpected error");
  trace.getActiveSpan()?.setStatus({ code: SpanStatusCode.ERROR }).setAttribute("orgraph.error_id", errorId);
  const unexpected = new GraphQLError("Unexpected error.", { extensions: { code: "INTERNAL_SERVER_ERROR", errorId } });
  masked.add(unexpected);
  return unexpected;
}

/**
 * Masks an operation's errors where its context (and so the request's logger) is known.
 * Yoga's own masking, which runs after every plugin and knows no request, then lets them
 * through; it still catches what fails outside an operation.
 */
export function useMaskedOperationErrors(): Plugin<AppContext> {
  return {
    onExecute: ({ args }) => ({
      onExecuteDone: (payload) =>
        handleStreamOrSingleExecutionResult(payload, ({ result, setResult }) => {
          const { logger } = args.contextValue;
          if (result.errors?.length) setResult({ ...result, errors: result.errors.map((error) => maskError(error, logger)) });
        }),
    }),
  };
}
