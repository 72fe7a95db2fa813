import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { SchemaError } from '../errors.js';

/**
 * The dimension schema (SPEC 4.4): an ordered list of dimensions, each with the
 * values it accepts. The same shape is used by MapReduce input filters (SPEC 7).
 */

/** `{min, max}` range; a bound may be a number or a string (2013 filters used "20131001"). */
export interface AllowedRange {
  readonly min?: number | string;
  readonly max?: number | string;
}

/** `"*"` (anything), one exact string, a list of strings, or a range. */
export type AllowedValues = string | readonly string[] | AllowedRange;

export interface Dimension {
  readonly field_name: string;
  readonly allowed_values: AllowedValues;
}

export interface DimensionSchema {
  readonly version: number;
  readonly dimensions: readonly Dimension[];
}

// Numbers in a list are accepted and compared as their decimal text, because
// dimension values are always text once taken from `info` (448 -> "448").
const allowedText = z.union([z.string(), z.number().transform((n) => String(n))]);
const bound = z.union([z.number(), z.string()]);

const rangeSchema = z
  .strictObject({ min: bound.optional(), max: bound.optional() })
  .refine((r) => !(typeof r.min === 'number' && typeof r.max === 'number' && r.min > r.max), {
    message: 'min is greater than max: the range can never match',
  });

const allowedValuesSchema = z.union([allowedText, z.array(allowedText), rangeSchema], {
  error: 'must be "*", a string, an array of strings or {"min", "max"}',
});

const dimensionSchema = z.strictObject({
  field_name: z.string().min(1, 'must be a non-empty string'),
  allowed_values: allowedValuesSchema,
});

const schemaFileSchema = z
  .object({
    // Only version 1 exists (2013-2015 and this project); refuse a format we do not know.
    version: z.literal(1, { error: 'must be 1 (the only schema format version)' }),
    dimensions: z.array(dimensionSchema).min(2, 'needs at least 2 dimensions (the file name holds the last two)'),
  })
  .superRefine((schema, ctx) => {
    const seen = new Set<string>();
    schema.dimensions.forEach((dimension, index) => {
      if (seen.has(dimension.field_name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['dimensions', index, 'field_name'],
          message: `duplicate field name "${dimension.field_name}"`,
        });
      }
      seen.add(dimension.field_name);
    });
  });

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.')}: ${issue.message}`)
    .join('; ');
}

/** Validate an already-parsed schema; `source` names it in error messages. */
export function parseDimensionSchema(json: unknown, source = 'dimension schema'): DimensionSchema {
  const result = schemaFileSchema.safeParse(json);
  if (!result.success) throw new SchemaError(`${source}: ${describeIssues(result.error)}`);
  return result.data;
}

/** Read and validate a schema file; every failure is a SchemaError naming the file. */
export async function loadDimensionSchema(file: string): Promise<DimensionSchema> {
  const name = path.resolve(file);
  let text: string;
  try {
    text = await readFile(name, 'utf8');
  } catch (error) {
    throw new SchemaError(`${name}: cannot read the schema file (${(error as Error).message})`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SchemaError(`${name}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
  return parseDimensionSchema(json, name);
}
