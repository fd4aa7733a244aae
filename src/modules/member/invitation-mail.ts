import nodemailer from "nodemailer";
import type { Config } from "../../config.js";

export interface InvitationLetter {
  to: string;
  organizationName: string;
  token: string;
  expiresAt: Date;
}

/** Sends invitation links by email (SMTP_URL); the token then never reaches the inviter. */
export interface InvitationMailer {
  send(letter: InvitationLetter): Promise<void>;
  close(): void;
}

export function createInvitationMailer(mail: NonNullable<Config["mail"]>, linkTemplate: string): InvitationMailer {
  const transport = nodemailer.createTransport(mail.smtpUrl);
  return {
    async send({ to, organizationName, token, expiresAt }) {
      const link = linkTemplate.replace("{token}", encodeURIComponent(token));
      await transport.sendMail({
        from: mail.from,
        to,
        subject: `You are invited to ${organizationName} on Orgraph`,
        text: [
          `You are invited to join ${organizationName} on Orgraph.`,
          "",
          `Accept the invitation: ${link}`,
          "",
          `The link works once and expires at ${expiresAt.toISOString()}. If you did not expect it, ignore this email.`,
        ].join("\n"),
      });
    },
    close: () => transport.close(),
  };
}
