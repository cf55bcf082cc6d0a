"use strict";
// A passkey on the pre-built UI: the client API calls the Web SDK's `passkey.signIn`
// makes, with the page's challenge token, then the form that goes on from the verified
// action (the server checks that a passkey completed it).
(() => {
  const button = document.getElementById("passkey");
  if (!button) return;
  const error = document.getElementById("passkey-error");
  const token = button.dataset.token;

  // WebAuthn's binary fields travel as base64url without padding.
  const decode = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0)).buffer;
  };
  const encode = (buffer) =>
    btoa(String.fromCharCode(...new Uint8Array(buffer)))
      .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  const call = async (path, body) => {
    const answer = await fetch("/v1/client/" + path, {
      method: "POST",
      headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = await answer.json();
    if (json.error) throw new Error(json.errorDescription || json.error);
    return json;
  };

  button.addEventListener("click", async () => {
    button.disabled = true;
    error.textContent = "";
    try {
      const { challengeId, options } =
        await call("user-authenticators/passkey/authentication-options", {});
      const credential = await navigator.credentials.get({
        publicKey: {
          ...options,
          challenge: decode(options.challenge),
          allowCredentials: (options.allowCredentials || []).map((c) => ({ ...c, id: decode(c.id) })),
        },
      });
      const response = credential.response;
      const verified = await call("verify/passkey", {
        challengeId,
        authenticationCredential: {
          id: credential.id,
          rawId: encode(credential.rawId),
          type: credential.type,
          response: {
            clientDataJSON: encode(response.clientDataJSON),
            authenticatorData: encode(response.authenticatorData),
            signature: encode(response.signature),
            userHandle: response.userHandle ? encode(response.userHandle) : undefined,
          },
          clientExtensionResults: credential.getClientExtensionResults(),
          authenticatorAttachment: credential.authenticatorAttachment || undefined,
        },
      });
      if (!verified.isVerified || !verified.accessToken) throw new Error("The passkey was not accepted.");
      document.getElementById("passkey-token").value = verified.accessToken;
      document.getElementById("passkey-form").submit();
    } catch (failure) {
      error.textContent = "Your passkey could not be used: " + (failure.message || failure);
      button.disabled = false;
    }
  });
})();
