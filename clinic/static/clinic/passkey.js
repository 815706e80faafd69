// Passkeys on the second-factor pages (templates/clinic/otp_setup.html, otp_verify.html).
//
// Where the browser cannot run a passkey ceremony (no WebAuthn, or not a secure context: plain
// http on anything but localhost), the passkey part is hidden and a line says so; the server
// already leaves it out where the page's host is not the relying party
// (clinic/twofactor.py, passkeys_work_here).
if (!window.isSecureContext || !window.PublicKeyCredential) {
  document.querySelectorAll("[data-passkey-only]").forEach((el) => {
    el.hidden = true;
  });
  document.querySelectorAll("[data-passkey-unavailable]").forEach((el) => {
    el.hidden = false;
  });
}

// Set-up: django-otp-webauthn's script registers the passkey and marks the session as
// verified; then this posts the page's form for the backup codes, as the authenticator app's
// set-up does (docs/security.md).
document.addEventListener("otp_webauthn.register_complete", () => {
  const form = document.getElementById("passkey-registered-form");
  if (form) form.submit();
});
