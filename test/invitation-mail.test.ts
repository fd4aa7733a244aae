import type { AddressInfo } from "node:net";
import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { codes, startTestApp, type SeededOrg, type TestApp } from "./helpers/app.js";

/**
 * With SMTP_URL set, invitation links travel by email (a real SMTP server, in this process)
 * and never through the inviter: the payload's token is null.
 */
const received: { to: string; subject: string; text: string }[] = [];
let smtp: SMTPServer;
let app: TestApp;
let org: SeededOrg;

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    onData(stream, _session, callback) {
      simpleParser(stream).then((mail) => {
        received.push({ to: mail.to && !Array.isArray(mail.to) ? mail.to.text : "", subject: mail.subject ?? "", text: mail.text ?? "" });
        callback();
      }, callback);
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
  const { port } = smtp.server.address() as AddressInfo;
  app = await startTestApp({
    env: { SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_FROM: "Orgraph <invites@orgraph.test>", INVITATION_LINK: "https://console.example.test/join?token={token}" },
  });
  org = await app.seed.org("Mailed");
});
afterAll(async () => {
  await app?.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});

const invite = `mutation($o: ID!, $e: String!) { inviteMember(input: { organizationId: $o, email: $e, role: MEMBER }) { token invitation { id status } } }`;

describe("invitations by email (SMTP_URL)", () => {
  it("emails the link to the invitee, returns no token, and the emailed token is accepted", async () => {
    const data = await app.ok(org.admin.key, invite, { o: org.orgId, e: "mailed@example.test" });
    expect(data.inviteMember.token).toBeNull();
    expect(data.inviteMember.invitation.status).toBe("PENDING");
    const mail = received.find((m) => m.to === "mailed@example.test");
    expect(mail?.subject).toBe("You are invited to Mailed on Orgraph");
    const token = /https:\/\/console\.example\.test\/join\?token=(ogi_[0-9A-Za-z]+)/.exec(mail!.text)?.[1];
    expect(token).toBeDefined();
    const accepted = await app.ok(undefined, `mutation($t: String!) { acceptInvitation(token: $t) { user { email } organization { id } } }`, { t: token });
    expect(accepted.acceptInvitation).toEqual({ user: { email: "mailed@example.test" }, organization: { id: org.orgId } });
  });

  it("when the mail cannot be sent, the invitation fails and leaves nothing behind", async () => {
    const port = (smtp.server.address() as AddressInfo).port;
    const down = await startTestApp({ env: { SMTP_URL: `smtp://127.0.0.1:${port === 1 ? 2 : 1}` } });
    try {
      const downOrg = await down.seed.org("Offline");
      const response = await down.gql(downOrg.admin.key, invite, { o: downOrg.orgId, e: "lost@example.test" });
      expect(response.errors).toHaveLength(1);
      expect(response.data).toBeNull();
      expect(await down.orgraph.deps.db.selectFrom("invitations").selectAll().execute()).toEqual([]);
      expect(codes(response)).toEqual(["INTERNAL_SERVER_ERROR"]);
    } finally {
      await down.close();
    }
  });
});
