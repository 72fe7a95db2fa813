/**
 * The allowed values of the generic layout, one set per namespace (SPEC 4.4
 * allowed_values forms: "*", a string, a list, {min, max}), with a default
 * for every namespace the file does not name:
 *
 *   {
 *     "version": 1,
 *     "default":    { "docType": "*", "docVersion": "*", "channel": ["release", …], "version": "*" },
 *     "namespaces": { "firefox-desktop": { "channel": ["release", "esr"] } }
 *   }
 *
 * A field a namespace leaves out takes the default's; one the default leaves
 * out allows anything. `namespace` and `submission_date` allow anything (the
 * gateway decides which namespaces are taken). Every namespace must keep
 * `deletion-request` pings under their own docType: `telemetry
 * deletion-requests list` finds them there.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { isAllowed, WILDCARD } from '../dimensions/allowed-values.js';
import { parseDimensionSchema, type AllowedValues, type DimensionSchema } from '../dimensions/schema.js';
import { GENERIC_DIMENSIONS } from '../dimensions/storage-path.js';
import { SchemaError } from '../errors.js';
import { isValidNamespace } from '../generic-form.js';

/** The docType of the pings Glean sends when a user turns data upload off. */
export const DELETION_REQUEST_DOC_TYPE = 'deletion-request';

const CONFIGURABLE = ['docType', 'docVersion', 'channel', 'version'] as const;
type Configurable = (typeof CONFIGURABLE)[number];
type FieldValues = Partial<Record<Configurable, unknown>>;

// Allowed values themselves are checked by parseDimensionSchema once the namespace's schema is built.
const fieldValues = z.strictObject(Object.fromEntries(CONFIGURABLE.map((field) => [field, z.unknown().optional()])) as Record<Configurable, z.ZodOptional<z.ZodUnknown>>);

const fileSchema = z.strictObject({
  version: z.literal(1, { error: 'must be 1 (the only schema format version)' }),
  default: fieldValues.optional(),
  namespaces: z.record(z.string(), fieldValues).optional(),
});

export class GenericSchemas {
  private readonly byNamespace: ReadonlyMap<string, DimensionSchema>;
  readonly fallback: DimensionSchema;

  private constructor(fallback: DimensionSchema, byNamespace: ReadonlyMap<string, DimensionSchema>) {
    this.fallback = fallback;
    this.byNamespace = byNamespace;
  }

  /** The namespace's dimension schema (GENERIC_DIMENSIONS order): its own, else the default. */
  forNamespace(namespace: string): DimensionSchema {
    return this.byNamespace.get(namespace) ?? this.fallback;
  }

  /** Validates an already-parsed file; `source` names it in error messages. Throws SchemaError. */
  static parse(json: unknown, source = 'generic schema'): GenericSchemas {
    const result = fileSchema.safeParse(json);
    if (!result.success) {
      const issues = result.error.issues.map((issue) => `${issue.path.length === 0 ? '(root)' : issue.path.map(String).join('.')}: ${issue.message}`);
      throw new SchemaError(`${source}: ${issues.join('; ')}`);
    }
    const defaults = result.data.default ?? {};
    const fallback = build(defaults, {}, `${source} default`);
    const byNamespace = new Map<string, DimensionSchema>();
    for (const [namespace, values] of Object.entries(result.data.namespaces ?? {})) {
      if (!isValidNamespace(namespace)) throw new SchemaError(`${source}: namespaces.${namespace}: not a generic namespace ([a-z0-9_-], not telemetry)`);
      byNamespace.set(namespace, build(defaults, values, `${source} namespaces.${namespace}`));
    }
    return new GenericSchemas(fallback, byNamespace);
  }

  /** Reads and validates a file; every failure is a SchemaError naming it. */
  static async load(file: string): Promise<GenericSchemas> {
    const name = path.resolve(file);
    let json: unknown;
    try {
      json = JSON.parse(await readFile(name, 'utf8'));
    } catch (error) {
      throw new SchemaError(`${name}: cannot read the generic schema file (${(error as Error).message})`, { cause: error });
    }
    return GenericSchemas.parse(json, name);
  }
}

function build(defaults: FieldValues, own: FieldValues, source: string): DimensionSchema {
  const allowed = (field: string): unknown => (field in own ? own[field as Configurable] : field in defaults ? defaults[field as Configurable] : WILDCARD);
  const schema = parseDimensionSchema({ version: 1, dimensions: GENERIC_DIMENSIONS.map((field) => ({ field_name: field, allowed_values: allowed(field) })) }, source);
  const docType = schema.dimensions[1]?.allowed_values as AllowedValues;
  if (!isAllowed(docType, DELETION_REQUEST_DOC_TYPE)) {
    throw new SchemaError(`${source}: docType must allow "${DELETION_REQUEST_DOC_TYPE}" (telemetry deletion-requests list reads those pings from their docType's directory)`);
  }
  return schema;
}
