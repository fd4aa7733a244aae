import type { ObjectRef } from "../../authz/model.js";
import type { AppContext } from "../../context.js";
import type { ExplainStep } from "./explain-path.js";

/**
 * The gates of spicedb/schema.zed that deny what a subject otherwise holds, asked for directly
 * of SpiceDB (one bulk check) when an answer is no:
 * - a team key's scope: `in_key_scope` on a model or environment (every key capability there
 *   is intersected with it), and `model_unscoped_key` for creating in the team (a model-scoped
 *   key edits its models but creates nothing new);
 * - a restricted environment: `manage` needs the team's writers to hold `unrestricted` or a
 *   grant (`grantee`).
 * Read from the trace instead, they would come and go: SpiceDB leaves out a branch of an
 * intersection once another branch has decided.
 */
export async function deniedBy(ctx: AppContext, object: ObjectRef, spicedbPermission: string, subject: ObjectRef, teamId: string | undefined): Promise<ExplainStep[]> {
  const asked = (resource: ObjectRef, permission: string) => ctx.authz.canAs(subject, resource, permission);
  const gates: Promise<ExplainStep | undefined>[] = [];
  if (subject.type === "api_key" && (object.type === "model" || object.type === "environment") && teamId) {
    const over = object.type;
    gates.push(asked(object, "in_key_scope").then((inScope) => (inScope ? undefined : { kind: "key_out_of_scope", over, keyId: subject.id, teamId })));
  }
  if (subject.type === "api_key" && object.type === "team" && spicedbPermission === "resources_write") {
    gates.push(asked(object, "model_unscoped_key").then((unscoped) => (unscoped ? undefined : { kind: "key_out_of_scope", over: "model", keyId: subject.id, teamId: object.id })));
  }
  if (object.type === "environment" && spicedbPermission === "manage") {
    gates.push(
      Promise.all([asked(object, "team_writer_in_scope"), asked(object, "unrestricted"), asked(object, "grantee")]).then(([writer, unrestricted, granted]) =>
        writer && !unrestricted && !granted ? { kind: "environment_restricted", environmentId: object.id } : undefined,
      ),
    );
  }
  return (await Promise.all(gates)).filter((gate): gate is ExplainStep => gate !== undefined);
}
