import { ref } from "../../authz/model.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import type { AppContext } from "../../context.js";
import type { Row } from "../../db/database.js";
import { notFound } from "../../errors.js";
import { builder } from "../../graphql/builder.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { expectId, newId } from "../../ids.js";
import { validName } from "../../validation.js";
import { writeTransaction } from "../../write.js";
import { TeamRef } from "../team/team.graphql.js";
import { getBrowsableTeam, teamRef } from "../team/team.service.js";

// Small enough to keep its type, rules, queries and relationship in one file.

type TrainingProject = Row<"training_projects">;
const trainingProjectRef = (id: string) => ref("training_project", id);

async function createTrainingProject(ctx: AppContext, teamId: string, name: string): Promise<TrainingProject> {
  const projectName = validName(name, "training project name");
  const team = await getBrowsableTeam(ctx, teamId);
  await ctx.authz.require(teamRef(teamId), "resources_write");
  return writeTransaction(
    ctx,
    async (tx) => {
      const project = await tx
        .insertInto("training_projects")
        .values({ id: newId("TrainingProject"), team_id: teamId, name: projectName })
        .returningAll()
        .executeTakeFirstOrThrow();
      await writeRelationships(tx, { orgId: team.org_id, teamId }, {
        add: [{ resource: trainingProjectRef(project.id), relation: "team", subject: teamRef(teamId) }],
      });
      return project;
    },
    { onConflict: `The team already has a training project named "${projectName}"` },
  );
}

const TrainingProjectRef = builder.objectRef<TrainingProject>("TrainingProject");

builder.node(TrainingProjectRef, {
  id: { resolve: (project) => project.id },
  authScopes: (project) => ({ visible: scopeKey(trainingProjectRef(project.id)) }),
  loadOne: async (id, ctx) => {
    expectId(id, "TrainingProject");
    await ctx.authz.requireVisible(trainingProjectRef(id));
    const project = await ctx.db.selectFrom("training_projects").selectAll().where("id", "=", id).executeTakeFirst();
    if (!project) throw notFound("training project not found");
    return project;
  },
  fields: (t) => ({
    name: t.exposeString("name"),
    team: t.field({ type: TeamRef, resolve: async (project, _args, ctx) => (await ctx.loaders.team.load(project.team_id))! }),
  }),
});

builder.objectFields(TeamRef, (t) => ({
  trainingProjects: t.field({
    type: [TrainingProjectRef],
    // Each item is checked (one bulk check): no field gate, which would cost a round trip.
    resolve: async (team, _args, ctx) =>
      ctx.authz.filter(
        await ctx.db.selectFrom("training_projects").selectAll().where("team_id", "=", team.id).orderBy("name").execute(),
        (project) => trainingProjectRef(project.id),
        "view",
      ),
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
