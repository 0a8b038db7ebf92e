// A small form-posting "browser" for the hosted pages inside workerd: a cookie jar, the CSRF
// field of the last page seen, the site's own Origin on every POST, and no redirect following
// (a test reads `location` and decides). Faster than Chromium for the pages' rules (step-up,
// refusals, what a form does); test/browser/ walks the same pages as a person would.
import { BASE, workerFetch } from "./http";

export interface PageAnswer {
  status: number;
  html: string;
  location: string | null;
  headers: Headers;
}

const CSRF = /name="_csrf" value="([^"]+)"/;

let browsers = 0;

export class PageBrowser {
  private cookies = new Map<string, string>();
  private csrf: string | null = null;
  /** Each browser is its own client address, so the per-IP sign-in limit of one test does not reach another's. */
  readonly ip = `198.18.${(++browsers >> 8) & 255}.${browsers & 255}`;

  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  /** Puts a cookie in the jar (e.g. one copied from another browser). */
  setCookie(name: string, value: string): void {
    this.cookies.set(name, value);
  }

  private keep(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    return { accept: "text/html", "cf-connecting-ip": this.ip, ...(cookie ? { cookie } : {}), ...extra };
  }

  private async answer(res: Response): Promise<PageAnswer> {
    this.keep(res);
    const html = await res.text();
    const m = CSRF.exec(html);
    if (m) this.csrf = m[1];
    const location = res.headers.get("location");
    return { status: res.status, html, location: location && location.startsWith(BASE) ? location.slice(BASE.length) : location, headers: res.headers };
  }

  async get(path: string): Promise<PageAnswer> {
    return this.answer(await workerFetch(BASE + path, { headers: this.headers(), redirect: "manual" }));
  }

  /** A form POST from one of the site's pages (the last page's CSRF token unless `_csrf` is given). */
  async post(path: string, fields: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<PageAnswer> {
    if (this.csrf === null && fields._csrf === undefined) await this.get("/login");
    const body = new URLSearchParams({ _csrf: this.csrf ?? "", ...fields }).toString();
    return this.answer(
      await workerFetch(BASE + path, {
        method: "POST",
        body,
        redirect: "manual",
        headers: this.headers({ origin: BASE, "content-type": "application/x-www-form-urlencoded", ...headers }),
      }),
    );
  }

  /** Signs in with a password through /login (the pages' session cookies); fails the test otherwise. */
  async signIn(email: string, password: string, query = ""): Promise<PageAnswer> {
    await this.get(`/login${query}`);
    const res = await this.post(`/login${query}`, { email, password });
    if (res.status !== 303) throw new Error(`page sign-in answered ${res.status}: ${textOf(res.html).slice(0, 400)}`);
    return res;
  }
}

/** The visible text of an HTML fragment (tags dropped, whitespace folded), for assertions. */
export function textOf(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/g, " ")
    .replace(/<[^>]+>/g, " ")
    .replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)))
    .replace(/&amp;/g, "&")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/\s+/g, " ")
    .trim();
}
