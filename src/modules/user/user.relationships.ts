import { ref, type Relationship } from "../../authz/model.js";

/** The relationships of users (spicedb/schema.zed: user). */

/** A user sees themselves (user#self). */
export const userSelf = (userId: string): Relationship => ({
  resource: ref("user", userId),
  relation: "self",
  subject: ref("user", userId),
});
