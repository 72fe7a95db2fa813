/**
 * The `dims` a job's map gets (SPEC 7): the record's dimension values as a
 * frozen list in the filter's (schema) order, as the 2013 jobs used it —
 * `dims[5]`, `dims.at(-1)`, `const [reason, appName] = dims`, `[...dims]`,
 * `dims.join(',')`, `['Error', ...dims]` — that also has them by field name
 * (`dims.submission_date`), like Python's namedtuple. The names are
 * non-enumerable, so `Object.keys`, `for…in` and `JSON.stringify` see the
 * list alone. (Its own module, free of zod: mapper processes load it.)
 */

/** The values in filter order; `dims.<field_name>` is the value of that dimension (undefined for a name the filter does not have). */
export type Dims = readonly string[] & { readonly [field: string]: string | undefined };

const CANONICAL_INDEX = /^(?:0|[1-9]\d*)$/;

/**
 * Why a dimension cannot have this field name, or undefined when it can:
 * an index or a property of lists (`length`, `map`, `at`, `constructor`, …)
 * would be hidden by the value, or would hide it.
 */
export function reservedDimensionName(name: string): string | undefined {
  if (CANONICAL_INDEX.test(name)) return 'it is a list index';
  if (name in Array.prototype) return 'it is a property of lists';
  return undefined;
}

/** The dims of one input file's records (built once per file, shared by its records). */
export function makeDims(fieldNames: readonly string[], values: readonly string[]): Dims {
  const list = fieldNames.map((_, index) => values[index] ?? '');
  fieldNames.forEach((name, index) => {
    // Filters are checked when loaded (reservedDimensionName); never shadow a list property here either.
    if (reservedDimensionName(name) === undefined) Object.defineProperty(list, name, { value: list[index], enumerable: false });
  });
  return Object.freeze(list) as unknown as Dims;
}
