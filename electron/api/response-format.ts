// OpenAI's structured-output request fields (`response_format` on /v1/chat/completions and
// /v1/completions) → the engine's constrained generation (GenerateRequest.responseFormat).
import { z } from 'zod';
import type { ResponseFormat } from '../engine/engine';
import { badRequest } from './api-errors';

/** A JSON Schema must be an object; the grammar builder rejects anything else natively. */
const jsonSchemaObject = z.record(z.string(), z.unknown());

export const responseFormatField = z
  .union([
    z.object({ type: z.literal('text') }),
    z.object({ type: z.literal('json_object') }),
    z.object({
      type: z.literal('json_schema'),
      json_schema: z.object({
        name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'json_schema.name must be 1-64 letters, digits, _ or -'),
        description: z.string().nullish(),
        schema: jsonSchemaObject.nullish(),
        strict: z.boolean().nullish(),
      }),
    }),
  ])
  .nullish();

export type ResponseFormatField = z.output<typeof responseFormatField>;

const SCHEMA_TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);

/** Rejects schemas the grammar builder would misread: `type` must be a JSON Schema type name. */
function checkSchema(schema: unknown, param: string, depth = 0): void {
  if (depth > 64) throw badRequest('The JSON schema is nested too deeply', param);
  if (typeof schema === 'boolean') return;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw badRequest(`${param} must be a JSON Schema object`, param);
  const s = schema as Record<string, unknown>;
  const types = Array.isArray(s.type) ? s.type : s.type === undefined ? [] : [s.type];
  for (const t of types) if (typeof t !== 'string' || !SCHEMA_TYPES.has(t)) throw badRequest(`${param}.type must be one of ${[...SCHEMA_TYPES].join(', ')}`, `${param}.type`);
  if (s.properties !== undefined) {
    if (typeof s.properties !== 'object' || s.properties === null || Array.isArray(s.properties)) throw badRequest(`${param}.properties must be an object`, `${param}.properties`);
    for (const [k, v] of Object.entries(s.properties)) checkSchema(v, `${param}.properties.${k}`, depth + 1);
  }
  if (s.required !== undefined && (!Array.isArray(s.required) || s.required.some((r) => typeof r !== 'string'))) throw badRequest(`${param}.required must be an array of strings`, `${param}.required`);
  if (s.items !== undefined && !Array.isArray(s.items)) checkSchema(s.items, `${param}.items`, depth + 1);
  for (const key of ['anyOf', 'oneOf', 'allOf'] as const) {
    if (s[key] === undefined) continue;
    if (!Array.isArray(s[key])) throw badRequest(`${param}.${key} must be an array`, `${param}.${key}`);
    (s[key] as unknown[]).forEach((v, i) => checkSchema(v, `${param}.${key}[${i}]`, depth + 1));
  }
  for (const key of ['$defs', 'definitions'] as const) {
    const defs = s[key];
    if (defs === undefined) continue;
    if (typeof defs !== 'object' || defs === null || Array.isArray(defs)) throw badRequest(`${param}.${key} must be an object`, `${param}.${key}`);
    for (const [k, v] of Object.entries(defs)) checkSchema(v, `${param}.${key}.${k}`, depth + 1);
  }
}

/** The engine's form of a validated `response_format` (undefined: free text). */
export function toEngineFormat(field: ResponseFormatField, param = 'response_format'): ResponseFormat | undefined {
  if (!field || field.type === 'text') return undefined;
  if (field.type === 'json_object') return { type: 'json_object' };
  const schema = field.json_schema.schema ?? {};
  checkSchema(schema, `${param}.json_schema.schema`);
  return { type: 'json_schema', schema };
}
