import { builder } from "../../graphql/builder.js";
import { scopeKey } from "../../graphql/scope-keys.js";
import { OrganizationRef } from "../organization/organization.graphql.js";
import { orgRef } from "../organization/organization.service.js";
import { TeamRef } from "../team/team.graphql.js";
import { teamRef } from "../team/team.service.js";
import { ipAllowlistOf, setIpAllowlist } from "./ip-allowlist.service.js";

// Readable by whoever may set it; anyone else who sees the organization or team gets FORBIDDEN
// on this field alone (null, the object stays), as with Organization.billingEmail.
builder.objectField(OrganizationRef, "ipAllowlist", (t) =>
  t.stringList({
    nullable: true,
    description: "The organization's IP allowlist, canonical CIDRs; empty: no restriction (org:manage: org ADMINs).",
    authScopes: (org) => ({ can: scopeKey(orgRef(org.id), "manage") }),
    resolve: (org, _args, ctx) => ipAllowlistOf(ctx.db, org.id),
  }),
);

builder.objectField(TeamRef, "ipAllowlist", (t) =>
  t.stringList({
    nullable: true,
    description: "The team's own IP allowlist (it narrows the organization's); empty: none (team ADMINs, org ADMINs).",
    authScopes: (team) => ({ can: scopeKey(teamRef(team.id), "manage") }),
    resolve: (team, _args, ctx) => ipAllowlistOf(ctx.db, team.id),
  }),
);

builder.mutationFields((t) => ({
  setIpAllowlist: t.stringList({
    audit: "ip_allowlist.set",
    description:
      "Sets the IP allowlist of an organization (org ADMINs) or a team (team ADMINs): IPv4 and IPv6 CIDRs or addresses, at most 100; " +
      "empty lifts it. A team's list narrows its organization's. Returns the list as stored (canonical, deduplicated).",
    args: { scopeId: t.arg.id({ required: true }), cidrs: t.arg.stringList({ required: true }) },
    resolve: (_root, { scopeId, cidrs }, ctx) => setIpAllowlist(ctx, scopeId, cidrs),
  }),
}));
