/* /docs: starts Swagger UI over the served OpenAPI schema. A file rather than the
 * inline script FastAPI writes, so the Content-Security-Policy can forbid inline
 * script; Swagger UI itself is served from the installed fastapi-offline package. */

window.ui = window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  validatorUrl: null, // the default sends the schema's URL to validator.swagger.io
  presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
});
