/** A document id: 1 to 100 characters of [A-Za-z0-9-] (usually a UUID), SPEC 2. */
const DOC_ID_PATTERN = /^[A-Za-z0-9-]{1,100}$/;

export function isValidDocId(value: string): boolean {
  return DOC_ID_PATTERN.test(value);
}
