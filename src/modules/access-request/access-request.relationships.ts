import { ref, type ObjectRef, type Relationship } from "../../authz/model.js";
import { environmentGrantee } from "../environment/environment.relationships.js";
import { teamRole } from "../team/team.relationships.js";
import type { AccessRequest } from "./access-request.types.js";

/**
 * What approving a request writes (schema.zed `user with expiration`): the team role, or the
 * environment grant, of the requester, until `expiresAt`.
 */
export function accessGranted(request: AccessRequest, expiresAt: Date): Relationship {
  const requester = ref("user", request.requester_id);
  const grant = request.environment_id ? environmentGrantee(request.environment_id, requester) : teamRole(request.team_id, requester, request.role!);
  return { ...grant, expiresAt };
}

/** The object a request asks access on, and the permission whoever may decide it holds there (the direct mutations' gates). */
export function decisionGate(request: AccessRequest): { scope: ObjectRef; permission: string } {
  return request.environment_id
    ? { scope: ref("environment", request.environment_id), permission: "manage_access" }
    : { scope: ref("team", request.team_id), permission: "manage_members" };
}
