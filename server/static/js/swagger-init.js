// Starts Swagger UI at /docs from the vendored bundle (no inline script: the CSP forbids them).
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
});
