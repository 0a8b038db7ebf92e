// The /login page's passkey script (issue 13): a small ES module, served under a content-hashed
// name with the page's nonce. It asks the page route POST /login/passkey/options for a challenge,
// lets the browser pick a passkey (the button, or the email field's autofill: conditional UI),
// and posts the credential to POST /login/passkey in the page's form, which signs in like the
// password form does. No inline handlers; the form carries the CSRF token.
import { WEBAUTHN_JS_PATH } from "../pages-assets/webauthn.js";

function fnv(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

export const PASSKEY_LOGIN_JS = `import { supported, getPasskey, conditionalMediationAvailable } from "${WEBAUTHN_JS_PATH}";
const form = document.getElementById("passkey-form");
const button = document.getElementById("passkey-button");
const status = document.getElementById("passkey-status");
let conditional = null;

async function options() {
  const body = new URLSearchParams(new FormData(form));
  body.delete("response");
  const res = await fetch(form.dataset.options, { method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!res.ok) throw new Error("options " + res.status);
  return (await res.json()).data;
}

function finish(data, response) {
  form.elements.namedItem("challengeId").value = data.challengeId;
  form.elements.namedItem("response").value = JSON.stringify(response);
  form.submit();
}

function fail(key) {
  if (status) { status.textContent = form.dataset[key]; status.hidden = false; }
  if (button) button.disabled = false;
}

if (form && button) {
  if (!supported()) {
    button.disabled = true;
    fail("unsupported");
  } else {
    button.addEventListener("click", async () => {
      button.disabled = true;
      if (conditional) conditional.abort();
      try {
        const data = await options();
        finish(data, await getPasskey(data.options));
      } catch (err) {
        fail("failed");
      }
    });
    conditionalMediationAvailable().then(async (ok) => {
      if (!ok) return;
      conditional = new AbortController();
      const signal = conditional.signal;
      try {
        const data = await options();
        const response = await getPasskey(data.options, { conditional: true, signal });
        if (!signal.aborted) finish(data, response);
      } catch (err) {
        // aborted by the button, or dismissed: nothing to say
      }
    });
  }
  form.dataset.ready = "1";
}
`;

export const PASSKEY_LOGIN_JS_PATH = `/pages/assets/passkey-login-${fnv(PASSKEY_LOGIN_JS)}.js`;

export const PASSKEY_ACCOUNT_JS = `import { supported, createPasskey } from "${WEBAUTHN_JS_PATH}";
const form = document.getElementById("passkey-add-form");
const button = document.getElementById("passkey-add-button");
const status = document.getElementById("passkey-add-status");
function fail() {
  if (status) { status.textContent = form.dataset.failed; status.hidden = false; }
  button.disabled = false;
}
if (form && button) {
  if (!supported()) button.disabled = true;
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const body = new URLSearchParams(new FormData(form));
      body.delete("response");
      const res = await fetch(form.dataset.options, { method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" } });
      if (res.status === 403 && form.dataset.stepUp) { location.assign(form.dataset.stepUp); return; }
      if (!res.ok) throw new Error("options " + res.status);
      const data = (await res.json()).data;
      const response = await createPasskey(data.options);
      form.elements.namedItem("response").value = JSON.stringify(response);
      form.submit();
    } catch (err) {
      fail();
    }
  });
  form.dataset.ready = "1";
}
`;

export const PASSKEY_ACCOUNT_JS_PATH = `/pages/assets/passkey-account-${fnv(PASSKEY_ACCOUNT_JS)}.js`;
