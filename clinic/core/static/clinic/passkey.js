// Passkey set-up (templates/clinic/otp_setup.html): django-otp-webauthn's script registers the
// passkey and marks the session as verified; then this posts the page's form for the backup
// codes, as the authenticator app's set-up does (docs/security.md).
document.addEventListener("otp_webauthn.register_complete", () => {
  const form = document.getElementById("passkey-registered-form");
  if (form) form.submit();
});
