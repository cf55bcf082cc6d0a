"use strict";
// The Web SDK's popup and window modes: the app's page (this iframe's parent, or this
// window's opener) waits for the token. Posted only to the origin the server trusts for
// this action, so a page of any other origin that opened this one gets nothing.
(() => {
  const main = document.querySelector("main");
  const origin = main.dataset.openerOrigin;
  const opener = window.parent !== window ? window.parent : window.opener;
  if (!origin || !opener) return;
  const post = (message) => opener.postMessage(message, origin);
  const close = (token) => post(JSON.stringify({ event: "AUTHSIGNAL_CLOSE_POPUP", token }));
  // The popup's iframe takes the page's height, and shows once the page is ready.
  post({ height: document.documentElement.scrollHeight });
  post(JSON.stringify({ event: "AUTHSIGNAL_READY" }));
  const token = main.dataset.resultToken;
  if (!token) return;
  const button = document.getElementById("continue");
  if (button) {
    button.addEventListener("click", () => close(token));
  } else {
    close(token);
  }
})();
