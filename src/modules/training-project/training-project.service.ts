import { trainingProjectInTeam } from "./training-project.relationships.js";
import { ref } from "../../authz/model.js";
import type { AppContext } from "../../context.js";
import { getVisible } from "../../get-visible.js";
import { validName } from "../../validation.js";
import { findRelationships } from "../../authz/relationship.repository.js";
import { writeRelationships } from "../../authz/relationship-writes.js";
import { writeTransaction } from "../../write.js";
import { teamById } from "../team/team.service.js";
import { writeInTeam } from "../team/write-in-team.js";
import { deleteTrainingProjectRow, findTrainingProject, insertTrainingProject, listTrainingProjects, type TrainingProject } from "./training-project.repository.js";

export const trainingProjectRef = (id: string) => ref("training_project", id);

export const getTrainingProject = (ctx: AppContext, id: string): Promise<TrainingProject> =>
  getVisible(ctx, "TrainingProject", trainingProjectRef(id), findTrainingProject);

/** Team writers create training projects. */
export async function createTrainingProject(ctx: AppContext, teamId: string, name: string): Promise<TrainingProject> {
  const projectName = validName(name, "training project name");
  return writeInTeam(
    ctx,
    teamId,
    "resources_write",
    async ({ tx, relate }) => {
      const project = await insertTrainingProject(tx, { teamId, name: projectName });
      await relate({ add: [trainingProjectInTeam(project.id, teamId)] });
      return project;
    },
    { onConflict: `The team already has a training project named "${projectName}"` },
  );
}

/** The team's training projects the caller may view, by name (one bulk check). */
export const visibleTrainingProjects = async (ctx: AppContext, teamId: string): Promise<TrainingProject[]> =>
  ctx.authz.filter(await listTrainingProjects(ctx.db, teamId), (project) => trainingProjectRef(project.id), "view");

/** Deletes the project and every relationship that points at it (training_project#delete: resources:delete). */
export async function deleteTrainingProject(ctx: AppContext, id: string): Promise<boolean> {
  const project = await getTrainingProject(ctx, id);
  await ctx.authz.require(trainingProjectRef(id), "delete");
  const team = (await teamById(ctx.db, project.team_id))!;
  await writeTransaction(ctx, async (tx) => {
    const remove = await findRelationships(tx, { resource: trainingProjectRef(id) });
    await writeRelationships(tx, { orgId: team.org_id, teamId: team.id }, { remove });
    await deleteTrainingProjectRow(tx, id);
  });
  return true;
}
