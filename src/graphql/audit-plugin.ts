import SchemaBuilder, {
  BasePlugin,
  PothosSchemaError,
  type FieldNullability,
  type InputFieldMap,
  type PothosOutputFieldConfig,
  type SchemaTypes,
  type TypeParam,
} from "@pothos/core";
import type { GraphQLFieldResolver } from "graphql";
import type { AppContext } from "../context.js";
import { auditedResolver } from "../modules/audit/audit.js";

declare global {
  // Pothos plugins declare their options by merging into this namespace.
  // eslint-disable-next-line @typescript-eslint/no-namespace
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      audit: AuditPlugin<Types>;
    }
    // The type parameters must repeat @pothos/core's declaration exactly for the interfaces to merge.
    /* eslint-disable @typescript-eslint/no-unused-vars */
    export interface MutationFieldOptions<
      Types extends SchemaTypes,
      Type extends TypeParam<Types>,
      Nullable extends FieldNullability<Type>,
      Args extends InputFieldMap,
      ResolveReturnShape,
    > {
      /**
       * The stable, dotted action this mutation records in the audit log (`model.create`).
       * Every mutation declares one: the schema does not build without it.
       */
      audit: string;
    }
    /* eslint-enable @typescript-eslint/no-unused-vars */
  }
}

/**
 * Every Mutation field leaves an audit event, allowed, denied or failed
 * (modules/audit/audit.ts `auditedResolver`), under the action its definition declares.
 * Listed first among the plugins so that it wraps scope-auth: a mutation refused by a scope
 * is recorded as DENIED like any other refusal.
 */
export class AuditPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override onOutputFieldConfig(fieldConfig: PothosOutputFieldConfig<Types>): PothosOutputFieldConfig<Types> {
    if (fieldConfig.parentType === "Mutation" && !auditActionOf(fieldConfig.pothosOptions)) {
      throw new PothosSchemaError(`Mutation.${fieldConfig.name} declares no audit action (the field option "audit")`);
    }
    return fieldConfig;
  }

  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types["Context"], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types["Context"], object> {
    const action = fieldConfig.parentType === "Mutation" ? auditActionOf(fieldConfig.pothosOptions) : undefined;
    if (!action) return resolver;
    return auditedResolver(action, resolver as GraphQLFieldResolver<unknown, AppContext, Record<string, unknown>>) as GraphQLFieldResolver<
      unknown,
      Types["Context"],
      object
    >;
  }
}

function auditActionOf(options: object): string | undefined {
  const action = (options as { audit?: unknown }).audit;
  return typeof action === "string" && /^[a-z_]+(\.[a-z_]+)+$/.test(action) ? action : undefined;
}

/** The name to list in the builder's `plugins`. */
export const auditPlugin = "audit" as const;
SchemaBuilder.registerPlugin(auditPlugin, AuditPlugin);
