/** The browser module for passkeys, as text (see webauthn.js). */
export declare const WEBAUTHN_JS: string;
/** A content tag of WEBAUTHN_JS (8 hex digits). */
export declare const WEBAUTHN_JS_HASH: string;
/** The suggested path to serve it under: /pages/assets/webauthn-<hash>.js. */
export declare const WEBAUTHN_JS_PATH: string;
