import { describe, expect, it } from "vitest";
import { parseConfig } from "../../../src/config";
import { buildEmail, EMAIL_KINDS, escapeHtml, type EmailParams } from "../../../src/services/email";
import type { EmailKind } from "../../../src/services/email/sender";

const config = parseConfig({
  APP_ENV: "test",
  DATABASE_URL: "postgresql://local:local@127.0.0.1/auth",
  UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1",
  UPSTASH_REDIS_REST_TOKEN: "t",
  FRONTEND_URL: "https://app.example.test/",
  EMAIL_APP_NAME: "Example Auth",
});

const sampleParams: { [K in EmailKind]: EmailParams[K] } = {
  registration_pending: { name: "Ada" },
  registration_exists: { name: "Ada" },
  password_reset: { name: "Ada", token: "tok", validMinutes: 60 },
  password_changed: { name: "Ada", changedAt: new Date("2025-01-02T03:04:05Z") },
  account_approved: { name: "Ada" },
  account_rejected: { name: "Ada" },
  admin_welcome: { name: "Ada", email: "ada@example.test" },
  account_deactivated: { name: "Ada" },
  organization_invitation: { name: null, organizationName: "Acme Corp", inviterEmail: "owner@example.test", token: "inv+tok/=", validDays: 7 },
  email_verification: { name: "Ada", token: "ver+tok/=", validMinutes: 1440 },
  magic_link: { name: "Ada", url: "https://auth.example.test/auth/magic-link/verify?token=abc", validMinutes: 15, applicationName: "Shop" },
  email_otp: { name: "Ada", code: "012345", validMinutes: 10, applicationName: "Shop" },
  mfa_enabled: { name: "Ada" },
  mfa_disabled: { name: "Ada" },
  mfa_recovery_codes: { name: "Ada" },
};

describe("email templates", () => {
  it("puts the url-encoded token in the reset link, with its validity", () => {
    const token = "a+b/c=d&e f?g#h";
    const mail = buildEmail("password_reset", config, { name: "Ada", token, validMinutes: 30 });
    const link = `https://app.example.test/reset-password?token=${encodeURIComponent(token)}`;
    expect(link).toContain("a%2Bb%2Fc%3Dd%26e%20f%3Fg%23h");
    expect(mail.text).toContain(link);
    // In HTML the link sits in an attribute and as text, both escaped (no raw & from the token).
    expect(mail.html).toContain(`href="${escapeHtml(link)}"`);
    expect(mail.html).not.toContain(token);
    expect(mail.text).toContain("30 minutes");
    expect(mail.html).toContain("30 minutes");
    expect(mail.subject).toContain("Example Auth");
    expect(new URL(link).searchParams.get("token")).toBe(token);
  });

  it("escapes a <script> name in the html part and keeps it readable in the text part", () => {
    const name = `<script>alert("x")</script> & 'Bob'`;
    for (const kind of EMAIL_KINDS) {
      const mail = buildEmail(kind, config, { ...sampleParams[kind], name } as never);
      expect(mail.html, kind).not.toContain("<script");
      expect(mail.html, kind).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Bob&#39;");
      expect(mail.text, kind).toContain(name);
    }
  });

  it("escapes the app name, logo URL and frontend URL too", () => {
    const hostile = parseConfig({
      APP_ENV: "test",
      DATABASE_URL: "postgresql://local:local@127.0.0.1/auth",
      UPSTASH_REDIS_REST_URL: "http://127.0.0.1:1",
      UPSTASH_REDIS_REST_TOKEN: "t",
      FRONTEND_URL: `https://app.example.test/x"onmouseover="y`,
      EMAIL_APP_NAME: "<b>Evil</b>",
      EMAIL_LOGO_URL: `https://cdn.example.test/logo.png"><script>`,
    });
    for (const kind of EMAIL_KINDS) {
      const { html } = buildEmail(kind, hostile, sampleParams[kind]);
      expect(html, kind).not.toMatch(/<script|<b>|"onmouseover=/);
      expect(html, kind).toContain("&lt;b&gt;Evil&lt;/b&gt;");
    }
  });

  it("uses the logo URL, defaulting to FRONTEND_URL/logo_white.png", () => {
    expect(buildEmail("account_approved", config, { name: "Ada" }).html).toContain(`src="https://app.example.test/logo_white.png"`);
    const withLogo = { email: { ...config.email, logoUrl: "https://cdn.example.test/l.png" } };
    expect(buildEmail("account_approved", withLogo, {}).html).toContain(`src="https://cdn.example.test/l.png"`);
  });

  it("links approval to the sign-in page and a duplicate registration to forgot-password (no token)", () => {
    const approved = buildEmail("account_approved", config, { name: "Ada" });
    expect(approved.text).toContain("https://app.example.test/login");
    expect(approved.html).toContain(`href="https://app.example.test/login"`);

    const exists = buildEmail("registration_exists", config, {});
    expect(exists.text).toContain("https://app.example.test/forgot-password");
    expect(exists.text).not.toContain("token");
    expect(exists.html).not.toContain("reset-password?");
    expect(exists.text).toMatch(/tried to (create|register)/);
  });

  it("greets by name when known and generically otherwise", () => {
    expect(buildEmail("account_rejected", config, { name: "Ada" }).text).toMatch(/^Hello Ada,/);
    expect(buildEmail("account_rejected", config, { name: null }).text).toMatch(/^Hello,/);
    expect(buildEmail("account_rejected", config, {}).text).toMatch(/^Hello,/);
  });

  it("keeps subjects on one line even with a hostile name or app name", () => {
    const c = { email: { ...config.email, appName: "App\r\nBcc: x@example.test" } };
    for (const kind of EMAIL_KINDS) {
      const mail = buildEmail(kind, c, sampleParams[kind]);
      expect(mail.subject, kind).not.toMatch(/[\r\n]/);
      expect(mail.subject.length, kind).toBeGreaterThan(0);
    }
  });

  it("builds a complete, accessible message for every kind", () => {
    for (const kind of EMAIL_KINDS) {
      const mail = buildEmail(kind, config, sampleParams[kind]);
      expect(mail.html, kind).toMatch(/^<!doctype html>\n<html lang="en">/);
      expect(mail.html, kind).toContain(`alt="Example Auth"`);
      expect(mail.html, kind).not.toMatch(/<link|<style|<script/i);
      expect(mail.text, kind).toContain("Example Auth");
      expect(mail.text, kind).not.toMatch(/<[a-z]/i);
    }
  });

  it("offers a set-password link in the admin welcome when given a token", () => {
    const mail = buildEmail("admin_welcome", config, { name: "Ada", email: "ada@example.test", token: "t/1", validMinutes: 1440 });
    expect(mail.text).toContain("https://app.example.test/reset-password?token=t%2F1");
    expect(mail.text).toContain("24 hours");
    expect(mail.text).toContain("ada@example.test");
  });

  it("puts the url-encoded invitation token in the accept link, with the organization escaped", () => {
    const mail = buildEmail("organization_invitation", config, { ...sampleParams.organization_invitation, organizationName: "Acme <Corp>" });
    const link = `https://app.example.test/invitations/accept?token=${encodeURIComponent("inv+tok/=")}`;
    expect(mail.text).toContain(link);
    expect(mail.html).toContain(`href="${escapeHtml(link)}"`);
    expect(mail.html).toContain("Acme &lt;Corp&gt;");
    expect(mail.html).not.toContain("Acme <Corp>");
    expect(mail.text).toContain("7 days");
    expect(mail.subject).toContain("Acme <Corp>");
  });
});
