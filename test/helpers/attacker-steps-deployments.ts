import type { TestApp } from "./app.js";
import { roleHolds, type Principal, type Reference } from "./attacker-reference.js";
import type { Attempt, Step } from "./attacker-steps.js";

/**
 * The attacker model's steps for issue 13's deployments and deletions, with the reference's
 * expectations written from the issue: promote/scale/remove need model edit and environment
 * manage (on the target for promote; a restricted one needs a grant or org ADMIN) on a
 * deployment the caller views; deleteEnvironment needs team:manage_environments (CONFLICT
 * while it serves, or while a key is scoped to it alone); deleteTrainingProject
 * resources:delete; deleteServiceAccount team:manage_keys and whatever the account's role,
 * custom roles and environment grants confer.
 */
export const DEPLOYMENT_OPS = [
  "promoteDeployment", "scaleDeployment", "removeDeployment", "deleteEnvironment", "deleteTrainingProject", "deleteServiceAccount",
] as const;
export type DeploymentOp = (typeof DEPLOYMENT_OPS)[number];
export const isDeploymentOp = (op: string): op is DeploymentOp => (DEPLOYMENT_OPS as readonly string[]).includes(op);

interface Deployment { id: string; model: string; env: string; team: string; active: boolean }
/** What the Reference does not hold: deployments, training projects and environment names, per world. */
interface Extra { deployments: Deployment[]; projects: { id: string; team: string }[]; envNames: Map<string, string> }
const extras = new WeakMap<Reference, Extra>();
const extraOf = (ref: Reference): Extra => {
  let extra = extras.get(ref);
  if (!extra) extras.set(ref, (extra = { deployments: [], projects: [], envNames: new Map() }));
  return extra;
};

const GHOST = { dep: `dep_${"0".repeat(28)}`, env: `env_${"0".repeat(28)}`, trn: `trn_${"0".repeat(28)}`, sa: `sa_${"0".repeat(28)}` };
const ENV_NAMES = ["dev", "prod", "nowhere"];

/** Adds to one organization of the world: llm deployed to dev, a training project, the environments' names. */
export async function seedDeployments(app: TestApp, ref: Reference, world: { admin: string; team: string; model: string; envs: Record<string, string> }): Promise<void> {
  const extra = extraOf(ref);
  for (const [name, id] of Object.entries(world.envs)) extra.envNames.set(id, name);
  const deployed = await app.ok(world.admin, `mutation($t: ID!) { deployModel(input: { teamId: $t, modelName: "llm", environment: "dev", config: { replicas: 1 } }) { id } }`, { t: world.team });
  extra.deployments.push({ id: deployed.deployModel.id, model: world.model, env: world.envs.dev!, team: world.team, active: true });
  const project = await app.ok(world.admin, `mutation($t: ID!) { createTrainingProject(teamId: $t, name: "tune") { id } }`, { t: world.team });
  extra.projects.push({ id: project.createTrainingProject.id, team: world.team });
}

const pick = <T>(items: T[], index: number): T => items[index % items.length]!;
const decide = (permitted: boolean, valid: boolean): Attempt["allowed"] => (permitted ? (valid ? "yes" : "invalid") : valid ? "no" : "refused");

export function planDeploymentOp(step: Step & { op: DeploymentOp }, caller: Principal, ref: Reference): Attempt {
  const extra = extraOf(ref);
  const has = (id: string, permission: string) => ref.permissions(caller, id).has(permission);
  // As attacker-steps.ts: viewing decides FORBIDDEN, merely browsing may answer either, unseen is NOT_FOUND.
  const visible = (id: string, view: string): boolean | "maybe" => (has(id, view) ? true : ref.visible(caller, id) ? "maybe" : false);
  const activate = (deployment: Deployment) => {
    for (const d of extra.deployments) if (d.model === deployment.model && d.env === deployment.env) d.active = false;
    extra.deployments.push(deployment);
  };

  if (step.op === "promoteDeployment" || step.op === "scaleDeployment" || step.op === "removeDeployment") {
    const deployment = pick([...extra.deployments, undefined], step.object);
    const id = deployment?.id ?? GHOST.dep;
    const seen = !!deployment && has(deployment.model, "model:view") && has(deployment.env, "environment:view");
    const target = { variable: "d", id, visible: seen, ghost: GHOST.dep };
    const mayDeploy = (env: string | undefined) => !!deployment && !!env && has(deployment.model, "model:edit") && has(env, "environment:manage");
    if (step.op === "promoteDeployment") {
      const name = pick(ENV_NAMES, step.choice);
      // The name is resolved in the deployment's own team; one outside a key's scope is as absent.
      const env = [...extra.envNames].find(([e, n]) => n === name && ref.object(e)?.team === deployment?.team)?.[0];
      return {
        query: `mutation($d: ID!, $e: String!) { promoteDeployment(id: $d, environment: $e) { id } }`, variables: { d: id, e: name },
        allowed: decide(mayDeploy(env), !!env && has(env, "environment:view")), target, harmless: true,
        apply: (data) => activate({ ...deployment!, id: data.promoteDeployment.id, env: env!, active: true }),
      };
    }
    const permitted = mayDeploy(deployment?.env);
    const valid = !!deployment?.active;
    if (step.op === "scaleDeployment") {
      return {
        query: `mutation($d: ID!, $c: JSON!) { scaleDeployment(id: $d, config: $c) { id } }`, variables: { d: id, c: { replicas: step.choice % 8 } },
        allowed: decide(permitted, valid), target, harmless: true,
        apply: (data) => activate({ ...deployment!, id: data.scaleDeployment.id, active: true }),
      };
    }
    return {
      query: `mutation($d: ID!) { removeDeployment(id: $d) }`, variables: { d: id }, allowed: decide(permitted, valid), target, harmless: true,
      apply: () => void (deployment!.active = false),
    };
  }

  if (step.op === "deleteEnvironment") {
    const env = pick([...[...ref.objects.values()].filter((o) => o.kind === "env").map((o) => o.id), GHOST.env], step.object);
    const team = ref.object(env)?.team;
    const serving = extra.deployments.some((d) => d.env === env && d.active);
    const stranded = ref.principals.some((p) => p.envScope?.length && p.envScope.every((e) => e === env));
    return {
      query: `mutation($e: ID!) { deleteEnvironment(id: $e) }`, variables: { e: env },
      allowed: decide(!!team && ref.holdsAll(caller, team, ["team:manage_environments"]), !!team && !serving && !stranded),
      target: { variable: "e", id: env, visible: team ? visible(env, "environment:view") : false, ghost: GHOST.env },
      apply: () => {
        ref.objects.delete(env);
        ref.restricted.delete(env);
        for (const grant of [...ref.grantees]) if (grant.startsWith(`${env}|`)) ref.grantees.delete(grant);
        for (const p of ref.principals) if (p.envScope) p.envScope = p.envScope.filter((e) => e !== env);
        extra.deployments = extra.deployments.filter((d) => d.env !== env);
        extra.envNames.delete(env);
      },
    };
  }

  if (step.op === "deleteTrainingProject") {
    const project = pick([...extra.projects, undefined], step.object);
    const id = project?.id ?? GHOST.trn;
    return {
      query: `mutation($p: ID!) { deleteTrainingProject(id: $p) }`, variables: { p: id },
      allowed: decide(!!project && ref.holdsAll(caller, project.team, ["resources:delete"]), true),
      // A training project is seen by whoever views its team.
      target: { variable: "p", id, visible: !!project && has(project.team, "team:view"), ghost: GHOST.trn }, harmless: true,
      apply: () => void (extra.projects = extra.projects.filter((p) => p !== project)),
    };
  }

  const account = pick([...ref.principals.filter((p) => p.kind === "SERVICE_ACCOUNT"), undefined], step.principal);
  const team = account?.team;
  const role = team ? ref.teamRole.get(`${team}|${account!.id}`) : undefined;
  // removeTeamMember deletes a service account too: without its membership it no longer exists.
  const exists = !!role;
  const id = account?.id ?? GHOST.sa;
  const customRoles = [...ref.rolePerms].filter(([r]) => ref.assignments.has(`${r}|${team}|${id}`)).flatMap(([, { perms }]) => perms);
  const granted = [...ref.grantees].some((g) => g.endsWith(`|${id}`));
  const takes = [...(role ? roleHolds(role) : []), ...customRoles, ...(granted ? ["resources:write"] : [])];
  return {
    query: `mutation($s: ID!) { deleteServiceAccount(id: $s) }`, variables: { s: id },
    allowed: decide(exists && ref.holdsAll(caller, team!, ["team:manage_keys", ...takes]), exists),
    target: { variable: "s", id, visible: exists && has(team!, "team:view"), ghost: GHOST.sa },
    apply: () => {
      ref.principals.splice(ref.principals.indexOf(account!), 1);
      ref.teamRole.delete(`${team}|${id}`);
      for (const grant of [...ref.grantees]) if (grant.endsWith(`|${id}`)) ref.grantees.delete(grant);
      for (const assignment of [...ref.assignments]) if (assignment.endsWith(`|${id}`)) ref.assignments.delete(assignment);
    },
  };
}
