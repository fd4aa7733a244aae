import { ref } from "../src/authz/model.js";
import { writeRelationships } from "../src/authz/relationship-writes.js";
import type { Db, TeamRole } from "../src/db/database.js";
import { issueApiKey } from "../src/modules/api-key/api-key.service.js";
import { environmentInTeam, unrestricted } from "../src/modules/environment/environment.relationships.js";
import { insertEnvironment } from "../src/modules/environment/environment.repository.js";
import { modelInTeam } from "../src/modules/model/model.relationships.js";
import { insertDeployment, insertModel } from "../src/modules/model/model.repository.js";
import { orgRole, userInOrg } from "../src/modules/organization/organization.relationships.js";
import { insertOrgMembership } from "../src/modules/organization/organization.repository.js";
import { createOrganizationIn } from "../src/modules/organization/organization.service.js";
import { teamAdmitsEveryAddress, teamInOrg, teamRole } from "../src/modules/team/team.relationships.js";
import { insertTeam, insertTeamMembership } from "../src/modules/team/team.repository.js";
import { findOrCreateUser } from "../src/modules/user/user.service.js";

export interface Scale {
  teams: number;
  users: number;
  modelsPerTeam: number;
  keys: number;
}

export const FULL: Scale = { teams: 20, users: 2000, modelsPerTeam: 200, keys: 2000 };
export const QUICK: Scale = { teams: 5, users: 200, modelsPerTeam: 100, keys: 200 };

export interface Workload {
  orgId: string;
  adminKey: string;
  /** Every team of the organization but its default team (the gateway keys' teams). */
  teamIds: string[];
  /** A team MEMBER's key and that team (B1). */
  member: { key: string; teamId: string };
  /** A member of three teams (B2). */
  threeTeamMember: string;
  /** INFERENCE_ONLY team keys with the model and environment each may call (B3). */
  gatewayKeys: { key: string; model: string; environment: string }[];
}

/**
 * Seeds the benchmark organization through the same repository and relationship code the
 * services use (without per-request authorization, like bootstrap), in a few large
 * transactions. Each team has three environments (production restricted) and every model is
 * deployed to two of them.
 */
export async function seedWorkload(db: Db, scale: Scale): Promise<Workload> {
  return db.transaction().execute(async (tx) => {
    const { user: admin } = await findOrCreateUser(tx, "admin@bench.test", { verified: true });
    const org = await createOrganizationIn(tx, "Bench", admin.id);
    const adminKey = (await issueApiKey(tx, { kind: "PERSONAL", name: "bench", user_id: admin.id, created_by: admin.id })).secret;

    const teams = [];
    for (let t = 0; t < scale.teams; t++) {
      const team = await insertTeam(tx, { orgId: org.id, name: `team-${t}`, isDefault: false });
      const environments = [];
      for (const [name, restricted] of [["development", false], ["staging", false], ["production", true]] as const) {
        const environment = await insertEnvironment(tx, { teamId: team.id, name, restricted });
        await writeRelationships(tx, { orgId: org.id, teamId: team.id }, {
          add: [environmentInTeam(environment.id, team.id), ...(restricted ? [] : unrestricted(environment.id))],
        });
        environments.push(environment);
      }
      const models = [];
      for (let m = 0; m < scale.modelsPerTeam; m++) {
        const model = await insertModel(tx, { teamId: team.id, name: `model-${m}`, createdBy: admin.id });
        await writeRelationships(tx, { orgId: org.id, teamId: team.id }, { add: [modelInTeam(model.id, team.id)] });
        for (const environment of environments.slice(1)) {
          await insertDeployment(tx, { modelId: model.id, environmentId: environment.id, config: { replicas: 1 }, createdBy: admin.id });
        }
        models.push(model);
      }
      await writeRelationships(tx, { orgId: org.id, teamId: team.id }, { add: [teamInOrg(team.id, org.id), ...teamAdmitsEveryAddress(team.id)] });
      teams.push({ team, environments, models });
    }

    const memberKeys: { key: string; teamIds: string[] }[] = [];
    const roles: TeamRole[] = ["MEMBER", "OPERATOR", "VIEWER", "ADMIN"];
    for (let u = 0; u < scale.users; u++) {
      const { user } = await findOrCreateUser(tx, `user-${u}@bench.test`, { verified: true });
      await insertOrgMembership(tx, org.id, user.id, "MEMBER");
      await writeRelationships(tx, { orgId: org.id }, { add: [orgRole(org.id, user.id, "MEMBER"), userInOrg(user.id, org.id)] });
      const count = (u % 3) + 1;
      const teamIds: string[] = [];
      for (let k = 0; k < count; k++) {
        const { team } = teams[(u + k * 7) % teams.length]!;
        if (teamIds.includes(team.id)) continue;
        const role = k === 0 ? "MEMBER" : roles[(u + k) % roles.length]!;
        await insertTeamMembership(tx, { teamId: team.id, principalId: user.id, principalType: "user", role });
        await writeRelationships(tx, { orgId: org.id, teamId: team.id }, { add: [teamRole(team.id, ref("user", user.id), role)] });
        teamIds.push(team.id);
      }
      // Keys only for the users the benchmark acts as.
      if (u < 3) {
        const { secret } = await issueApiKey(tx, { kind: "PERSONAL", name: "bench", user_id: user.id, created_by: user.id });
        memberKeys.push({ key: secret, teamIds });
      }
    }

    const gatewayKeys = [];
    for (let k = 0; k < scale.keys; k++) {
      const { team, environments, models } = teams[k % teams.length]!;
      const environment = environments[k % 2]!;
      const { secret } = await issueApiKey(
        tx,
        { kind: "TEAM", name: `gateway-${k}`, team_id: team.id, type: "INFERENCE_ONLY", created_by: admin.id },
        { team: { ...team, org_id: org.id }, scope: { environmentIds: [environment.id], modelIds: null } },
      );
      gatewayKeys.push({ key: secret, model: models[k % models.length]!.name, environment: environment.name });
    }

    const member = memberKeys.find((m) => m.teamIds.length >= 1)!;
    const threeTeamMember = memberKeys.find((m) => m.teamIds.length === 3)!;
    return { orgId: org.id, adminKey, teamIds: teams.map(({ team }) => team.id), member: { key: member.key, teamId: member.teamIds[0]! }, threeTeamMember: threeTeamMember.key, gatewayKeys };
  });
}
