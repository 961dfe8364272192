// Starts Swagger UI on the document whose URL the page gives (data-openapi). No validator
// badge (it would send the document to an outside validator) and the base layout (no bar
// to load other documents).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.openapi,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
