/**
 * The generic submission form of Mozilla's edge specification (SPEC 2), which
 * today's Firefox uses for its Glean pings:
 *
 *   POST|PUT /submit/<namespace>/<docType>/<docVersion>/<docId>
 *
 * namespace and docType `[a-z0-9_-]`, docVersion digits, docId a UUID. The
 * gateway checks these rules on the path as sent; the workers check them
 * again on what the message says (a message not written by the gateway is
 * `invalid_path`). `telemetry` is never a generic namespace: that path is the
 * telemetry form.
 */
import { z } from 'zod';

/** The URL fields of a generic-form submission, as sent. */
export interface GenericForm {
  readonly namespace: string;
  readonly docType: string;
  readonly docVersion: string;
}

/** The namespace of the telemetry form (`/submit/telemetry/<docId>[/…]`): never a generic namespace. */
export const TELEMETRY_NAMESPACE = 'telemetry';

const NAME = /^[a-z0-9_-]+$/;
const DIGITS = /^[0-9]+$/;
const UUID = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;

/** A well-formed generic namespace (`telemetry` is the other form, not a generic namespace). */
export function isValidNamespace(value: string): boolean {
  return NAME.test(value) && value !== TELEMETRY_NAMESPACE;
}

export function isValidDocType(value: string): boolean {
  return NAME.test(value);
}

export function isValidDocVersion(value: string): boolean {
  return DIGITS.test(value);
}

/** 8-4-4-4-12 hexadecimal digits, either case (the edge specification asks for a UUID, not a version of one). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Why a generic form (and its docId) is not well formed; undefined when it is. */
export function genericFormProblem(form: GenericForm, docId: string): string | undefined {
  if (!isValidNamespace(form.namespace)) return `namespace "${form.namespace.slice(0, 100)}" is not [a-z0-9_-] (or is telemetry)`;
  if (!isValidDocType(form.docType)) return `docType "${form.docType.slice(0, 100)}" is not [a-z0-9_-]`;
  if (!isValidDocVersion(form.docVersion)) return `docVersion "${form.docVersion.slice(0, 100)}" is not digits`;
  if (!isUuid(docId)) return `docId "${docId.slice(0, 100)}" is not a UUID`;
  return undefined;
}

/**
 * A comma-separated list of generic namespaces (ACCEPTED_NAMESPACES): unset or
 * empty is undefined (any well-formed namespace); each entry must be a
 * well-formed namespace, and `telemetry` is refused (that form is always taken).
 */
export function namespaceListField() {
  return z
    .string()
    .optional()
    .transform((text, ctx): ReadonlySet<string> | undefined => {
      const names = (text ?? '')
        .split(',')
        .map((name) => name.trim())
        .filter((name) => name !== '');
      const bad = names.filter((name) => !isValidNamespace(name));
      if (bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: `not a generic namespace ([a-z0-9_-], not telemetry): ${bad.join(', ')}` });
        return z.NEVER;
      }
      return names.length === 0 ? undefined : new Set(names);
    });
}
