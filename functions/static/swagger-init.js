// Starts Swagger UI on /api/docs against the app's own OpenAPI document (kept out of the page for the CSP).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
