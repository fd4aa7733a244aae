import { trainingProjectInTeam } from "./training-project.relationships.js";
import { ref } from "../../authz/model.js";
import type { AppContext } from "../../context.js";
import { getVisible } from "../../get-visible.js";
import { validName } from "../../validation.js";
import { writeInTeam } from "../team/write-in-team.js";
import { findTrainingProject, insertTrainingProject, listTrainingProjects, type TrainingProject } from "./training-project.repository.js";

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
