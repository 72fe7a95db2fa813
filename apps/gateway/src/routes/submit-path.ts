/**
 * Which submission form a request path (as sent, never normalised) is, by the
 * rules of SPEC 2 and Mozilla's edge specification:
 *
 *   /submit/telemetry/<docId>[/<reason>/<appName>/<appVersion>/<appUpdateChannel>/<appBuildID>]
 *   /submit/<namespace>/<docType>/<docVersion>/<docId>
 *
 * Pure: it either names the form and its fields or throws the HttpError the
 * client gets (every 4xx is final for clients, so only for requests that can
 * never succeed).
 */
import { urlDimensionsFromPath, type UrlDimensions } from '@telemetry/shared/amqp/wire-codec';
import { isValidDocId } from '@telemetry/shared/doc-id';
import { isUuid, isValidDocType, isValidDocVersion, isValidNamespace, TELEMETRY_NAMESPACE, type GenericForm } from '@telemetry/shared/generic-form';
import { HttpError } from '../http-error.js';

export const SUBMIT_ROOT = '/submit/';
const SUBMIT_PREFIX = `${SUBMIT_ROOT}${TELEMETRY_NAMESPACE}/`;

export type SubmitTarget =
  /** `path`: after `/submit/telemetry/`. */
  | { readonly form: 'telemetry'; readonly path: string; readonly docId: string; readonly urlDimensions: UrlDimensions | undefined }
  /** `path`: after `/submit/`. */
  | { readonly form: 'generic'; readonly path: string; readonly docId: string; readonly generic: GenericForm };

/**
 * `acceptedNamespaces`: the generic namespaces taken (undefined: any
 * well-formed one). A well-formed namespace that is not accepted is 404, as
 * the edge specification answers a namespace it does not serve.
 */
export function parseSubmitPath(fullPath: string, acceptedNamespaces: ReadonlySet<string> | undefined): SubmitTarget {
  if (fullPath === SUBMIT_PREFIX.slice(0, -1)) throw new HttpError(400, 'Path must be /submit/telemetry/{docId}[/…]');
  if (fullPath.startsWith(SUBMIT_PREFIX)) return telemetryTarget(fullPath.slice(SUBMIT_PREFIX.length));
  if (!fullPath.startsWith(SUBMIT_ROOT)) throw new HttpError(404, 'Not found');
  const path = fullPath.slice(SUBMIT_ROOT.length);
  const parts = path.split('/');
  const [namespace = '', docType = '', docVersion = '', docId = ''] = parts;
  if (namespace === '') throw new HttpError(404, 'Not found');
  if (!isValidNamespace(namespace)) throw new HttpError(400, 'namespace must be [a-z0-9_-]');
  if (acceptedNamespaces !== undefined && !acceptedNamespaces.has(namespace)) throw new HttpError(404, `Namespace ${namespace} is not accepted here`);
  if (parts.length !== 4) throw new HttpError(400, 'Path must be /submit/{namespace}/{docType}/{docVersion}/{docId}');
  if (!isValidDocType(docType)) throw new HttpError(400, 'docType must be [a-z0-9_-]');
  if (!isValidDocVersion(docVersion)) throw new HttpError(400, 'docVersion must be digits');
  if (!isUuid(docId)) throw new HttpError(400, 'docId must be a UUID');
  return { form: 'generic', path, docId, generic: { namespace, docType, docVersion } };
}

function telemetryTarget(path: string): SubmitTarget {
  const parts = path.split('/');
  if (parts.length !== 1 && parts.length !== 6) {
    throw new HttpError(400, 'Path must be /submit/telemetry/{docId} or /submit/telemetry/{docId}/{reason}/{appName}/{appVersion}/{appUpdateChannel}/{appBuildID}');
  }
  const docId = parts[0] ?? '';
  if (!isValidDocId(docId)) throw new HttpError(400, 'docId must be 1 to 100 characters of [A-Za-z0-9-]');
  return { form: 'telemetry', path, docId, urlDimensions: urlDimensionsFromPath(path) };
}
