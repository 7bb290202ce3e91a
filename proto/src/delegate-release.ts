/**
 * The current delegate release: the version a delegate built from this tree reports in Hello, and
 * the one the control plane measures reported versions against (`outdated`). It lives here because
 * both sides depend on this package; delegate/package.json's version is tested to equal it, so a
 * release bumps the two together.
 */
export const DELEGATE_RELEASE = '0.1.0';
