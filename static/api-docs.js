// The API's readable page: Swagger UI over /api/v1/openapi.json (no inline script: the CSP forbids them).
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({url: node.dataset.specUrl, dom_id: "#swagger-ui", deepLinking: true,
                               tryItOutEnabled: false, validatorUrl: null});
});
