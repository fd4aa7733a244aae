import { lexicographicSortSchema, printSchema } from "graphql";
import { builder } from "./builder.js";
import "./scalars.js";
import "../modules/user/user.graphql.js";
import "../modules/api-key/api-key.graphql.js";
import "../modules/organization/organization.graphql.js";
import "../modules/team/team.graphql.js";
import "../modules/team/team-limits.graphql.js";
import "../modules/member/member.graphql.js";
import "../modules/environment/environment.graphql.js";
import "../modules/model/model.graphql.js";
import "../modules/chain/chain.graphql.js";
import "../modules/chain/chain-run.graphql.js";
import "../modules/training-project/training-project.graphql.js";
import "../modules/secret/secret.graphql.js";
import "../modules/api-key/api-key.team.graphql.js";
import "../modules/service-account/service-account.graphql.js";
import "../modules/usage/usage.graphql.js";
import "../modules/audit/audit.graphql.js";
import "../modules/role/role.graphql.js";
import "../modules/tool-policy/tool-policy.graphql.js";
import "../modules/viewer/viewer.graphql.js";
import "../modules/permission/permission.graphql.js";
import "../modules/ip-allowlist/ip-allowlist.graphql.js";
import "../modules/explain/explain.graphql.js";
import "../modules/key-policy/key-policy.graphql.js";
import "../modules/access-request/access-request.graphql.js";
import "../modules/sso/sso.graphql.js";

// Every mutation, allowed, denied or failed, leaves an audit event (graphql/audit-plugin.ts).
export const schema = builder.toSchema();

/** The SDL kept in schema/schema.graphql (a test fails when that file is stale). */
export const printedSchema = () => `${printSchema(lexicographicSortSchema(schema))}\n`;
