import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createHttpServer } from "../../src/app.js";
import type { AuthzClient } from "../../src/authz/client.js";
import { loadConfig } from "../../src/config.js";
import type { OrgRole, TeamRole } from "../../src/db/database.js";
import { createLogger, type Logger } from "../../src/logger.js";
import { issueApiKey } from "../../src/modules/api-key/api-key.service.js";
import { createOrganizationIn } from "../../src/modules/organization/organization.service.js";
import { findOrCreateUser } from "../../src/modules/user/user.service.js";
import { startOrgraph, type Orgraph } from "../../src/orgraph.js";
import { createTestDatabase, type TestDatabase } from "./database.js";

export interface GraphQLResponse<T = Record<string, any>> {
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: { code?: string } }[];
}

export interface TestApp {
  orgraph: Orgraph;
  database: TestDatabase;
  /** Runs a GraphQL operation with `key` as the Bearer credential (none when undefined). */
  gql<T = Record<string, any>>(key: string | undefined, query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
  /** Like gql, but fails the test on any error and returns data. */
  ok<T = Record<string, any>>(key: string | undefined, query: string, variables?: Record<string, unknown>): Promise<T>;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** The same over real HTTP, through the server's own listener (started on first use). */
  http(path: string, init?: RequestInit): Promise<Response>;
  /** That listener's address, `http://127.0.0.1:<port>` (started on first use), for clients of its own (a browser). */
  httpUrl(): Promise<string>;
  seed: Seed;
  close(): Promise<void>;
}

/**
 * An in-process Orgraph on a database of its own, spoken to through `yoga.fetch`.
 * `embeddedDataDir`: the embedded default (PGlite) in that folder, whatever DATABASE_URL the
 * suite runs with; the folder is the caller's, and close() leaves it in place.
 */
export async function startTestApp(
  options: { env?: Record<string, string>; wrapAuthzClient?: (client: AuthzClient) => AuthzClient; embeddedDataDir?: string; logger?: Logger } = {},
): Promise<TestApp> {
  const database: TestDatabase = options.embeddedDataDir
    ? { databaseUrl: undefined, dataDir: options.embeddedDataDir, drop: async () => {} }
    : await createTestDatabase();
  const config = loadConfig({
    ...(database.databaseUrl ? { DATABASE_URL: database.databaseUrl } : {}),
    ORGRAPH_DATA_DIR: database.dataDir,
    ...options.env,
  });
  const orgraph = await startOrgraph(config, options.logger ?? createLogger(process.env.TEST_LOG_LEVEL ?? "silent"), {
    wrapAuthzClient: options.wrapAuthzClient,
  });
  const fetch = (path: string, init?: RequestInit) => Promise.resolve(orgraph.app.fetch(new Request(`http://orgraph${path}`, init)));
  const gql = async (key: string | undefined, query: string, variables?: Record<string, unknown>) => {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as GraphQLResponse<any>;
  };
  const ok = async (key: string | undefined, query: string, variables?: Record<string, unknown>) => {
    const result = await gql(key, query, variables);
    if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
    return result.data as any;
  };
  let server: Promise<Server> | undefined;
  const httpUrl = async () => {
    server ??= new Promise((resolve) => {
      const listening = createHttpServer(orgraph.app, orgraph.deps).listen(0, "127.0.0.1", () => resolve(listening));
    });
    const { port } = (await server).address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  };
  const http = async (path: string, init?: RequestInit) => globalThis.fetch(`${await httpUrl()}${path}`, init);
  const app: TestApp = {
    orgraph,
    database,
    gql,
    ok,
    fetch,
    http,
    httpUrl,
    seed: undefined as unknown as Seed,
    close: async () => {
      if (server) {
        const listening = await server;
        listening.closeAllConnections();
        await new Promise((resolve) => listening.close(resolve));
      }
      await orgraph.close();
      await database.drop();
    },
  };
  app.seed = new Seed(app);
  return app;
}

export interface SeededOrg {
  orgId: string;
  defaultTeamId: string;
  admin: { userId: string; key: string; email: string };
}

export interface SeededMember {
  userId: string;
  key: string;
  email: string;
}

let counter = 0;
const uniqueEmail = (label: string) => `${label}-${process.pid}-${++counter}@example.test`;

/** Seeds through the same code paths users take: bootstrap for the first admin, then invitations. */
export class Seed {
  constructor(private readonly app: TestApp) {}

  async org(name = "Acme"): Promise<SeededOrg> {
    const { db, outbox } = this.app.orgraph.deps;
    const email = uniqueEmail("admin");
    const result = await db.transaction().execute(async (tx) => {
      const { user } = await findOrCreateUser(tx, email, { verified: true });
      const org = await createOrganizationIn(tx, name, user.id);
      const { secret } = await issueApiKey(tx, { kind: "PERSONAL", name: "seed", user_id: user.id, created_by: user.id });
      return { orgId: org.id, userId: user.id, key: secret };
    });
    await outbox.flush();
    const data = await this.app.ok(result.key, `query($id: ID!) { organization(id: $id) { defaultTeam { id } } }`, { id: result.orgId });
    return { orgId: result.orgId, defaultTeamId: data.organization.defaultTeam.id, admin: { userId: result.userId, key: result.key, email } };
  }

  /** Invites and accepts: a new member with `role` in the org and the given team roles (null: default team). */
  async member(
    org: SeededOrg,
    role: OrgRole,
    teams: { teamId: string; role: TeamRole }[] | null = [],
    label = "member",
  ): Promise<SeededMember> {
    const email = uniqueEmail(label);
    const invited = await this.app.ok(
      org.admin.key,
      `mutation($input: InviteMemberInput!) { inviteMember(input: $input) { token } }`,
      { input: { organizationId: org.orgId, email, role, teams } },
    );
    const accepted = await this.app.ok(
      undefined,
      `mutation($token: String!) { acceptInvitation(token: $token) { user { id } secret } }`,
      { token: invited.inviteMember.token },
    );
    return { userId: accepted.acceptInvitation.user.id, key: accepted.acceptInvitation.secret, email };
  }

  async team(org: SeededOrg, name: string): Promise<string> {
    const data = await this.app.ok(org.admin.key, `mutation($org: ID!, $name: String!) { createTeam(organizationId: $org, name: $name) { id } }`, {
      org: org.orgId,
      name,
    });
    return data.createTeam.id;
  }
}

export const codes = (response: GraphQLResponse) => (response.errors ?? []).map((e) => e.extensions?.code);
