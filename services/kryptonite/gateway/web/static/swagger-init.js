// Starts Swagger UI on the gateway's OpenAPI document (see gateway/docs.py).
"use strict";
window.addEventListener("load", () => {
  const box = document.getElementById("swagger-ui");
  window.ui = window.SwaggerUIBundle({
    url: box.dataset.openapiUrl,
    domNode: box,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
  });
});
