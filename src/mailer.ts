import nodemailer from "nodemailer";
import type { Config } from "./config.js";

export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

/** Sends email through SMTP_URL, from MAIL_FROM. */
export interface Mailer {
  send(message: MailMessage): Promise<void>;
  close(): void;
}

export function createSmtpMailer(mail: NonNullable<Config["mail"]>): Mailer {
  const transport = nodemailer.createTransport(mail.smtpUrl);
  return {
    async send(message) {
      await transport.sendMail({ from: mail.from, ...message });
    },
    close: () => transport.close(),
  };
}
