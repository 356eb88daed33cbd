import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";

// The official OpenAI response schemas (shared/conformance), compiled once. OpenAPI's
// `nullable: true` is not JSON Schema: it becomes a union with null before compiling.

const SHARED = new URL("../../../shared/", import.meta.url);
const source = JSON.parse(
  readFileSync(new URL("conformance/openai-schemas.json", SHARED), "utf8"),
) as { schemas: Record<string, unknown> };

function toJsonSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (typeof node !== "object" || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "nullable") continue;
    out[k] =
      k === "$ref" ? (v as string).replace("#/components/schemas/", "#/$defs/") : toJsonSchema(v);
  }
  if ((node as { nullable?: boolean }).nullable === true) {
    if (Array.isArray(out.enum)) out.enum = [...out.enum, null];
    if (typeof out.type === "string") return { ...out, type: [out.type, "null"] };
    return { anyOf: [out, { type: "null" }] };
  }
  return out;
}

const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
ajv.addSchema({ $id: "openai", $defs: toJsonSchema(source.schemas) });

export type SchemaName =
  | "CreateChatCompletionResponse"
  | "CreateChatCompletionStreamResponse"
  | "ListModelsResponse"
  | "Model"
  | "ErrorResponse";

/** Asserts that `value` is valid for the named official OpenAI schema. */
export function assertSchema(name: SchemaName, value: unknown): void {
  const validate = ajv.getSchema(`openai#/$defs/${name}`);
  assert.ok(validate, `no schema ${name}`);
  const ok = validate(value);
  assert.ok(ok, `${name} invalid: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`);
}

export const FIXTURES = new URL("fixtures/gemini/", SHARED);

export function fixture(name: string): Buffer {
  return readFileSync(new URL(name, FIXTURES));
}
