import { builder } from "../../graphql/builder.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { TeamRef } from "../team/team.graphql.js";
import { teamRef } from "../team/team.service.js";
import { listSecrets } from "./secret.repository.js";
import { deleteSecret, setSecret, type SecretSummary } from "./secret.service.js";

/** A secret's name and version: values are write-only and never leave the server. */
const SecretRef = builder.objectRef<SecretSummary>("Secret").implement({
  fields: (t) => ({
    name: t.exposeString("name"),
    version: t.exposeInt("version"),
    updatedAt: t.field({ type: "DateTime", resolve: (s) => s.updated_at }),
  }),
});

builder.objectFields(TeamRef, (t) => ({
  secrets: t.field({
    type: [SecretRef],
    authScopes: (team) => ({ can: scopeKey(teamRef(team.id), "secrets_read_names") }),
    resolve: (team, _args, ctx) => listSecrets(ctx.db, team.id),
  }),
}));

builder.mutationFields((t) => ({
  setSecret: t.field({
    audit: "secret.set",
    type: SecretRef,
    args: { teamId: t.arg.id({ required: true }), name: t.arg.string({ required: true }), value: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => setSecret(ctx, args.teamId, args.name, args.value),
  }),
  deleteSecret: t.boolean({
    audit: "secret.delete",
    args: { teamId: t.arg.id({ required: true }), name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => deleteSecret(ctx, args.teamId, args.name),
  }),
}));
