import { v1 } from "@authzed/authzed-node";
import type { ObjectRef } from "./model.js";

/**
 * SpiceDB's resolution tree of one CheckPermission with `withTracing` (its `debugTrace`), as
 * plain data: what `explainPermission` walks to say why an answer is yes or no. Only
 * CheckPermission traces (CheckBulkPermissions has no tracing), so it costs one call per
 * explanation and never sits on a hot path.
 */
export type TraceResult = "has" | "no" | "conditional";

/** How a caveat on the way evaluated: false, or not at all for want of context, decide a denial. */
export type CaveatOutcome = "true" | "false" | "missing_context" | "unevaluated";

export interface TraceNode {
  resource: ObjectRef;
  /** A relation or a permission of `resource`'s definition. */
  name: string;
  kind: "relation" | "permission";
  result: TraceResult;
  caveat?: { name: string; outcome: CaveatOutcome };
  /** The subproblems SpiceDB dispatched: arrows show as nodes on the object they reach. */
  children: TraceNode[];
}

export interface TracedCheck {
  /** Only HAS_PERMISSION allows; a conditional answer (missing caveat context) is a denial. */
  allowed: boolean;
  result: TraceResult;
  trace: TraceNode | undefined;
}

type DebugTrace = NonNullable<NonNullable<v1.CheckPermissionResponse["debugTrace"]>["check"]>;

/*
 * authzed-node exports the debug messages' enums only from a deep path (which breaks on
 * upgrade), so their wire numbers (authzed/api/v1/debug.proto) are named here.
 */
const RESULT: Record<number, TraceResult> = { 2: "has", 3: "conditional" }; // CheckDebugTrace.Permissionship
const RELATION = 1; // CheckDebugTrace.PermissionType.PERMISSION_TYPE_RELATION
const CAVEAT: Record<number, CaveatOutcome> = { 2: "false", 3: "true", 4: "missing_context" }; // CaveatEvalInfo.Result

export function fromDebugTrace(trace: DebugTrace): TraceNode {
  const caveat = trace.caveatEvaluationInfo;
  return {
    resource: { type: trace.resource?.objectType ?? "", id: trace.resource?.objectId ?? "" },
    name: trace.permission,
    kind: trace.permissionType === RELATION ? "relation" : "permission",
    result: RESULT[trace.result] ?? "no",
    ...(caveat?.caveatName ? { caveat: { name: caveat.caveatName, outcome: CAVEAT[caveat.result] ?? "unevaluated" } } : {}),
    children: trace.resolution.oneofKind === "subProblems" ? trace.resolution.subProblems.traces.map(fromDebugTrace) : [],
  };
}

export function fromCheckResponse(response: v1.CheckPermissionResponse): TracedCheck {
  const Permissionship = v1.CheckPermissionResponse_Permissionship;
  const result: TraceResult =
    response.permissionship === Permissionship.HAS_PERMISSION ? "has" : response.permissionship === Permissionship.CONDITIONAL_PERMISSION ? "conditional" : "no";
  const root = response.debugTrace?.check;
  return { allowed: result === "has", result, trace: root ? fromDebugTrace(root) : undefined };
}
