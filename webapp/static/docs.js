// Renders /openapi.json as a readable list of routes, with DOM nodes and textContent only
// (descriptions come from manifests: never parsed as HTML).

const root = document.getElementById("docs");
const target = document.getElementById("spec");

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function resolve(spec, schema) {
  if (schema && schema.$ref) {
    return schema.$ref.replace("#/", "").split("/").reduce((node, key) => node[key], spec);
  }
  return schema;
}

function schemaText(spec, schema) {
  return JSON.stringify(resolve(spec, schema), null, 2);
}

function operation(spec, path, method, op) {
  const box = el("details", undefined, "operation");
  const summary = el("summary");
  summary.append(el("span", method.toUpperCase(), `method ${method}`), el("code", path));
  if (op.security && op.security.length) summary.append(el("span", "API key", "badge"));
  summary.append(el("span", op.summary || "", "summary"));
  box.append(summary);
  if (op.description) box.append(el("p", op.description));
  for (const parameter of op.parameters || []) {
    box.append(el("p", `${parameter.in} parameter ${parameter.name}: ${parameter.description || ""} ${JSON.stringify(parameter.schema)}`, "param"));
  }
  if (op.requestBody) {
    for (const [media, content] of Object.entries(op.requestBody.content)) {
      box.append(el("h4", `Request body (${media})`));
      const schema = content.schema || {};
      let shown = schema;
      const items = schema.properties && schema.properties.instances && schema.properties.instances.items;
      if (items) shown = { ...schema, instance: resolve(spec, items) };
      box.append(el("pre", JSON.stringify(shown, null, 2)));
    }
  }
  const responses = el("ul", undefined, "responses");
  for (const [status, response] of Object.entries(op.responses || {})) {
    const item = el("li");
    item.append(el("code", status), el("span", ` ${response.description || ""}`));
    const json = response.content && response.content["application/json"];
    if (json && json.schema && status === "200") item.append(el("pre", schemaText(spec, json.schema)));
    responses.append(item);
  }
  box.append(el("h4", "Responses"), responses);
  return box;
}

async function main() {
  const response = await fetch(root.dataset.openapiUrl);
  const spec = await response.json();
  target.replaceChildren();
  target.append(el("p", `${spec.info.title} ${spec.info.version} · OpenAPI ${spec.openapi}`, "note"));
  for (const [path, methods] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(methods)) target.append(operation(spec, path, method, op));
  }
  const errorSchema = el("details", undefined, "operation");
  errorSchema.append(el("summary", "Every error"), el("pre", schemaText(spec, spec.components.schemas.Error)));
  target.append(errorSchema);
  root.dataset.ready = "true";
}

main().catch((error) => { target.replaceChildren(el("p", `Could not load the API description: ${error.message}`, "error")); });
