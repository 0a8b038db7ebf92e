// Reading and writing .dev.vars (dotenv syntax, as wrangler reads it): KEY=value lines,
// values optionally in double quotes spanning several lines (PEM keys), # comments.
import { existsSync, readFileSync, writeFileSync } from "node:fs";

export function parseDevVars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(lines[i]);
    if (!m) continue;
    let value = m[2];
    if (value.startsWith('"')) {
      value = value.slice(1);
      while (!/(^|[^\\])"\s*$/.test(value) && i + 1 < lines.length) value += "\n" + lines[++i];
      value = value.replace(/"\s*$/, "").replace(/\\n/g, "\n").replace(/\\"/g, '"');
    } else if (value.startsWith("'")) {
      value = value.slice(1).replace(/'\s*$/, "");
    } else {
      value = value.replace(/\s+#.*$/, "").trim();
    }
    out[m[1]] = value;
  }
  return out;
}

export function formatDevVar(key: string, value: string): string {
  return /[\s"'#=]/.test(value) || value.includes("\n") ? `${key}="${value.replace(/"/g, '\\"')}"` : `${key}=${value}`;
}

export function readDevVars(path: string): Record<string, string> {
  return existsSync(path) ? parseDevVars(readFileSync(path, "utf8")) : {};
}

export function writeDevVars(path: string, vars: Record<string, string>, header = ""): void {
  const body = Object.entries(vars)
    .map(([k, v]) => formatDevVar(k, v))
    .join("\n");
  writeFileSync(path, `${header}${body}\n`, { mode: 0o600 });
}
