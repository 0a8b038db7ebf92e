// The hosted pages' one stylesheet, served by the Worker under a content-hashed name (cached for
// good; a change gets a new name). Light and dark through prefers-color-scheme, one column that
// fits a 360 px phone, and the application's brand colour through --brand / --brand-text, which a
// page sets in a nonce'd <style> (see layout.tsx). Colours meet WCAG AA contrast in both schemes.
export const STYLESHEET = `
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--text:#1b1f24;--muted:#4b5563;--border:#c9ced6;--link:#0b57d0;--error:#b3261e;--error-bg:#fdecea;--ok:#1e6b34;--ok-bg:#e6f4ea;--focus:#0b57d0;--brand:#1d4ed8;--brand-text:#fff;--input:#fff}
@media (prefers-color-scheme:dark){:root{--bg:#111418;--card:#1b1f24;--text:#e8eaed;--muted:#b4bac3;--border:#4b5563;--link:#8ab4f8;--error:#f2b8b5;--error-bg:#3b1a18;--ok:#a8dab5;--ok-bg:#15301d;--focus:#8ab4f8;--input:#111418}}
*,*::before,*::after{box-sizing:border-box}
html{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;font-size:100%;line-height:1.5;background:var(--bg);color:var(--text)}
body{margin:0;min-height:100vh;display:flex;flex-direction:column}
a{color:var(--link);text-underline-offset:2px}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-9999px;top:0;background:var(--card);padding:.5rem 1rem;z-index:10}
.skip:focus{left:1rem;top:1rem}
header.top{display:flex;align-items:center;justify-content:space-between;gap:1rem;padding:.75rem 1.25rem;border-bottom:4px solid var(--brand);background:var(--card)}
header.top .brand{display:flex;align-items:center;gap:.6rem;font-weight:650;font-size:1.1rem;color:var(--text);text-decoration:none}
header.top .logo{display:block;width:32px;height:32px;object-fit:contain;border-radius:6px}
header.top img{height:32px;width:auto}
main{flex:1;width:100%;max-width:30rem;margin:0 auto;padding:1.5rem 1rem 3rem}
main.wide{max-width:52rem}
.card{background:var(--card);border:1px solid var(--border);border-radius:12px;padding:1.5rem;margin:0 0 1.25rem}
h1{font-size:1.6rem;line-height:1.25;margin:0 0 1rem}
h2{font-size:1.2rem;margin:0 0 .75rem}
p{margin:0 0 1rem}
.muted{color:var(--muted)}
form{margin:0}
.field{margin:0 0 1rem}
label{display:block;font-weight:600;margin:0 0 .3rem}
.hint{display:block;color:var(--muted);font-size:.9rem;margin:.2rem 0 .3rem}
input[type=email],input[type=password],input[type=text],select{display:block;width:100%;font:inherit;color:var(--text);background:var(--input);border:1px solid var(--muted);border-radius:8px;padding:.6rem .75rem;min-height:2.75rem}
input[aria-invalid=true]{border-color:var(--error);border-width:2px}
.check{display:flex;align-items:center;gap:.5rem;margin:0 0 1rem}
.check label{margin:0;font-weight:400}
.check input{width:1.2rem;height:1.2rem}
.field-error{display:block;color:var(--error);font-weight:600;font-size:.95rem;margin:.3rem 0 0}
button,.button{display:inline-flex;align-items:center;justify-content:center;gap:.5rem;font:inherit;font-weight:600;min-height:2.75rem;padding:.6rem 1.1rem;border-radius:8px;border:2px solid var(--brand);background:var(--brand);color:var(--brand-text);cursor:pointer;text-decoration:none}
button.secondary,.button.secondary{background:transparent;color:var(--text);border-color:var(--border)}
button.danger{background:transparent;color:var(--error);border-color:var(--error)}
button.block,.button.block{width:100%}
.stack>*+*{margin-top:.75rem}
.alert{border-radius:8px;padding:.75rem 1rem;margin:0 0 1rem;border:1px solid}
.alert.error{background:var(--error-bg);color:var(--text);border-color:var(--error)}
.alert.ok{background:var(--ok-bg);color:var(--text);border-color:var(--ok)}
.divider{display:flex;align-items:center;gap:.75rem;color:var(--muted);margin:1.25rem 0}
.divider::before,.divider::after{content:"";flex:1;border-top:1px solid var(--border)}
.links{display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;margin:1rem 0 0}
ul.list{list-style:none;margin:0;padding:0}
ul.list li{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.5rem 1rem;padding:.75rem 0;border-top:1px solid var(--border)}
ul.list li:first-child{border-top:0}
.badge{display:inline-block;font-size:.8rem;font-weight:600;padding:.1rem .5rem;border-radius:999px;border:1px solid var(--border)}
.badge.ok{border-color:var(--ok);color:var(--ok)}
.badge.warn{border-color:var(--error);color:var(--error)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:0 0 1rem}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0;overflow-wrap:anywhere}
.codes{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:.25rem 1rem;padding:0;list-style:none}
.qr{display:block;width:200px;height:200px;background:#fff;padding:8px;border-radius:8px}
code.secret{overflow-wrap:anywhere}
.langs{display:flex;gap:.75rem;font-size:.95rem}
footer{text-align:center;color:var(--muted);font-size:.9rem;padding:1rem}
textarea{display:block;width:100%;font:inherit;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9rem;color:var(--text);background:var(--input);border:1px solid var(--muted);border-radius:8px;padding:.6rem .75rem;resize:vertical}
textarea[aria-invalid=true]{border-color:var(--error);border-width:2px}
pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9rem;overflow:auto;max-width:100%;margin:0;padding:.75rem;border:1px solid var(--border);border-radius:8px}
.portal-nav{margin:0 0 .75rem;font-weight:600}
.portal-nav a[aria-current=page]{color:var(--text);text-decoration-thickness:3px}
.actions{margin:0;align-items:center}
li .actions{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end}
form.rename{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end}
form.rename .field{margin:0}
dd form.inline{display:inline-block;margin:.25rem 0 0 .5rem}
.portal-who{align-items:center;margin:0 0 1.25rem}
.portal-who p{margin:0}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:480px){main{padding:1rem .75rem 2rem}.card{padding:1.1rem;border-radius:10px}h1{font-size:1.35rem}header.top{padding:.6rem .75rem}dl.facts{grid-template-columns:1fr}dl.facts dd{margin-bottom:.4rem}}
`.trim();

/** FNV-1a (64 bits as two 32-bit halves) of the stylesheet: its name changes with its content. */
function contentHash(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ ch ^ (h1 >>> 7), 0x01000193) >>> 0;
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0");
}

export const STYLESHEET_HASH = contentHash(STYLESHEET);
export const STYLESHEET_PATH = `/pages/assets/pages-${STYLESHEET_HASH}.css`;

/** Relative luminance (WCAG 2) of #rrggbb. */
function luminance(hex: string): number {
  const channel = (i: number) => {
    const v = parseInt(hex.slice(i, i + 2), 16) / 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** The text colour (black or white) with the higher contrast on a brand colour. */
export function textOn(hex: string): string {
  const l = luminance(hex);
  return (1.05 / (l + 0.05) >= (l + 0.05) / 0.05 ? "#fff" : "#000");
}

/** The CSS that tints the page with an application's colour (validated #rrggbb only; anything else: none). */
export function brandCss(primaryColor: string | undefined): string | null {
  if (!primaryColor || !/^#[0-9a-fA-F]{6}$/.test(primaryColor)) return null;
  return `:root{--brand:${primaryColor};--brand-text:${textOn(primaryColor)}}`;
}
