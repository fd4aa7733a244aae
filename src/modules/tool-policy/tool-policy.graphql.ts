import { builder } from "../../graphql/builder.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { TeamRef } from "../team/team.graphql.js";
import { teamRef } from "../team/team.service.js";
import { SENSITIVITIES, type ToolRule } from "./tool-policy-rules.js";
import { deleteToolPolicy, getToolPolicy, setPhiRoles, setToolPolicy, setToolPolicyDocument, type TeamToolPolicy } from "./tool-policy.service.js";

export const SensitivityEnum = builder.enumType("Sensitivity", { values: SENSITIVITIES });

const ToolPolicyRef = builder.objectRef<ToolRule>("ToolPolicy").implement({
  description: "One role's runtime tool policy on a team: deny wins over allow; a role with no policy gets no tools.",
  fields: (t) => ({
    role: t.exposeString("role", { description: "A built-in team role, an API key type, or a custom role's id." }),
    allowedTools: t.exposeStringList("allowedTools"),
    deniedTools: t.exposeStringList("deniedTools"),
    maxSensitivity: t.field({ type: SensitivityEnum, nullable: true, description: "Null: PUBLIC only.", resolve: (rule) => rule.maxSensitivity }),
  }),
});

const TeamToolPolicyRef = builder.objectRef<TeamToolPolicy>("TeamToolPolicy").implement({
  fields: (t) => ({
    rules: t.field({ type: [ToolPolicyRef], resolve: (policy) => policy.rules }),
    phiRoles: t.exposeStringList("phiRoles", { description: "The roles that alone may touch PHI; empty: minimum-necessary is off." }),
    document: t.exposeString("document", { description: "The policy as a YAML rbac block (custom roles by name)." }),
  }),
});

builder.objectFields(TeamRef, (t) => ({
  toolPolicy: t.field({
    type: TeamToolPolicyRef,
    authScopes: (team) => ({ can: scopeKey(teamRef(team.id), "view") }),
    resolve: (team, _args, ctx) => getToolPolicy(ctx, team),
  }),
}));

builder.mutationFields((t) => ({
  setToolPolicy: t.field({
    audit: "tool_policy.set",
    type: ToolPolicyRef,
    args: {
      teamId: t.arg.id({ required: true }),
      role: t.arg.string({ required: true }),
      allowedTools: t.arg.stringList({ required: true }),
      deniedTools: t.arg.stringList({ required: true }),
      maxSensitivity: t.arg({ type: SensitivityEnum }),
    },
    resolve: (_root, args, ctx) => setToolPolicy(ctx, args.teamId, args.role, args.allowedTools, args.deniedTools, args.maxSensitivity ?? null),
  }),
  deleteToolPolicy: t.boolean({
    audit: "tool_policy.delete",
    args: { teamId: t.arg.id({ required: true }), role: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => deleteToolPolicy(ctx, args.teamId, args.role),
  }),
  setPhiRoles: t.stringList({
    audit: "tool_policy.phi_roles_set",
    args: { teamId: t.arg.id({ required: true }), roles: t.arg.stringList({ required: true }) },
    resolve: (_root, args, ctx) => setPhiRoles(ctx, args.teamId, args.roles),
  }),
  setToolPolicyDocument: t.field({
    audit: "tool_policy.document_set",
    type: TeamToolPolicyRef,
    args: { teamId: t.arg.id({ required: true }), document: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => setToolPolicyDocument(ctx, args.teamId, args.document),
  }),
}));
