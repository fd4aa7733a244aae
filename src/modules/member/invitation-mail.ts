import type { MailMessage } from "../../mailer.js";

export interface InvitationLetter {
  to: string;
  organizationName: string;
  token: string;
  expiresAt: Date;
}

/** The invitation email: its link carries the token, which then never reaches the inviter. */
export function invitationMessage(letter: InvitationLetter, linkTemplate: string): MailMessage {
  const link = linkTemplate.replace("{token}", encodeURIComponent(letter.token));
  return {
    to: letter.to,
    subject: `You are invited to ${letter.organizationName} on Orgraph`,
    text: [
      `You are invited to join ${letter.organizationName} on Orgraph.`,
      "",
      `Accept the invitation: ${link}`,
      "",
      `The link works once and expires at ${letter.expiresAt.toISOString()}. If you did not expect it, ignore this email.`,
    ].join("\n"),
  };
}
