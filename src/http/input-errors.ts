import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";

/** A request GraphQL itself refuses (unknown field, wrong argument, bad enum) is bad input. */
export function asBadUserInput(error: Pick<GraphQLError, "message" | "nodes" | "source" | "positions" | "extensions">): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    extensions: { ...error.extensions, code: "BAD_USER_INPUT" },
  });
}

/** Gives validation errors the spec's BAD_USER_INPUT code (yoga's own is GRAPHQL_VALIDATION_FAILED). */
export function useBadUserInputCodes(): Plugin {
  return {
    onValidate() {
      return ({ result, setResult }) => {
        if (result.length > 0) setResult(result.map((error) => asBadUserInput(error as GraphQLError)));
      };
    },
  };
}
