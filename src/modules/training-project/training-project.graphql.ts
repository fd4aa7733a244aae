import { builder } from "../../graphql/builder.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { TeamRef } from "../team/team.graphql.js";
import type { TrainingProject } from "./training-project.repository.js";
import { createTrainingProject, deleteTrainingProject, getTrainingProject, trainingProjectRef, visibleTrainingProjects } from "./training-project.service.js";

const TrainingProjectRef = builder.objectRef<TrainingProject>("TrainingProject");

builder.node(TrainingProjectRef, {
  id: { resolve: (project) => project.id },
  authScopes: (project) => ({ visible: scopeKey(trainingProjectRef(project.id)) }),
  loadOne: (id, ctx) => getTrainingProject(ctx, id),
  fields: (t) => ({
    name: t.exposeString("name"),
    team: t.field({ type: TeamRef, resolve: async (project, _args, ctx) => (await ctx.loaders.team.load(project.team_id))! }),
  }),
});

builder.objectFields(TeamRef, (t) => ({
  trainingProjects: t.field({
    type: [TrainingProjectRef],
    // Each item is checked (one bulk check): no field gate, which would cost a round trip.
    resolve: (team, _args, ctx) => visibleTrainingProjects(ctx, team.id),
  }),
}));

builder.mutationField("createTrainingProject", (t) =>
  t.field({
    audit: "training_project.create",
    type: TrainingProjectRef,
    args: { teamId: t.arg.id({ required: true }), name: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => createTrainingProject(ctx, args.teamId, args.name),
  }),
);

builder.mutationField("deleteTrainingProject", (t) =>
  t.boolean({
    audit: "training_project.delete",
    description: "Deletes the training project (resources:delete on its team).",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => deleteTrainingProject(ctx, args.id),
  }),
);
