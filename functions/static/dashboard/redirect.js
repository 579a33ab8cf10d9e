// MSAL's redirect page: hands the sign-in response to the app (the tab that started it, or a silent frame).
/* global msalRedirectBridge */
msalRedirectBridge.broadcastResponseToMainFrame().catch(function (error) {
  document.querySelector("main").textContent = "Sign-in did not complete: " + (error && error.message ? error.message : error);
});
