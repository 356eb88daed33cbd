/** Keywords of Gemini's OpenAPI-subset Schema (responseSchema, FunctionDeclaration.parameters). */
const KEPT = new Set([
  "type",
  "format",
  "title",
  "description",
  "nullable",
  "enum",
  "items",
  "properties",
  "required",
  "propertyOrdering",
  "minItems",
  "maxItems",
  "minLength",
  "maxLength",
  "pattern",
  "minimum",
  "maximum",
  "minProperties",
  "maxProperties",
  "anyOf",
  "default",
  "example",
]);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/**
 * A JSON Schema as Gemini's Schema subset, for models that do not take plain JSON Schema:
 * `$ref`s inlined from `$defs`/`definitions` (recursion cut at a depth), `["x","null"]` types
 * and `anyOf` with null turned into `nullable`, `const` into a one-value enum, and every
 * keyword Gemini rejects (`$schema`, `additionalProperties`, `exclusiveMinimum`, …) dropped.
 */
export function cleanSchema(schema: unknown): unknown {
  if (!isObject(schema)) return schema;
  const defs = { ...asObject(schema.definitions), ...asObject(schema.$defs) };
  return clean(schema, defs, 0);
}

function clean(node: JsonObject, defs: JsonObject, depth: number): JsonObject {
  if (depth > 32) return { type: "object" };
  if (typeof node.$ref === "string") {
    const target = defs[node.$ref.replace(/^#\/(\$defs|definitions)\//, "")];
    return isObject(target)
      ? clean({ ...target, ...withoutRef(node) }, defs, depth + 1)
      : { type: "object" };
  }
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "const") out.enum = [value];
    else if (KEPT.has(key)) out[key] = value;
  }
  if (Array.isArray(node.type)) {
    const types = node.type.filter((t) => t !== "null");
    if (types.length < node.type.length) out.nullable = true;
    if (types.length === 1) out.type = types[0]!;
    else {
      delete out.type;
      out.anyOf = types.map((t) => ({ type: t }));
    }
  }
  if (Array.isArray(out.anyOf)) {
    const branches = out.anyOf.filter((b) => !(isObject(b) && b.type === "null"));
    if (branches.length < out.anyOf.length) out.nullable = true;
    const cleaned = branches.map((b) => (isObject(b) ? clean(b, defs, depth + 1) : b));
    if (cleaned.length === 1 && isObject(cleaned[0])) {
      delete out.anyOf;
      Object.assign(out, cleaned[0]);
    } else out.anyOf = cleaned;
  }
  if (isObject(out.properties)) {
    const props: JsonObject = {};
    for (const [name, value] of Object.entries(out.properties)) {
      props[name] = isObject(value) ? clean(value, defs, depth + 1) : value;
    }
    out.properties = props;
  }
  if (isObject(out.items)) out.items = clean(out.items, defs, depth + 1);
  if (Array.isArray(out.enum)) out.enum = out.enum.map(String);
  return out;
}

function withoutRef(node: JsonObject): JsonObject {
  const { $ref: _, ...rest } = node;
  return rest;
}

function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asObject(v: unknown): JsonObject {
  return isObject(v) ? v : {};
}
