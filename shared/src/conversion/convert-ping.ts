import { PingError } from '../errors.js';
import type { RevisionSource } from '../revisions/types.js';
import { parseRevisionUrl } from '../revisions/revision-url.js';
import { convertHistograms } from './histograms.js';
import { CONVERSION_FALLBACK, ScannedHistograms } from './scanned-histograms.js';

/**
 * SPEC 4.1: turns a parsed submission of any payload version into the form
 * that is stored. Every refusal is a PingError with its SPEC 5 type; errors
 * of the revision source (missing_revision, transient unavailability) pass
 * through unchanged so the worker can file or retry them.
 */

export interface ConversionResult {
  /**
   * The converted ping; `JSON.stringify` gives the stored line's JSON. (On
   * the fast path only, its histograms are a RawJson that fast-path.ts
   * splices into the line.)
   */
  ping: Record<string, unknown>;
  /** The converted ping's info object, source of the storage dimensions. */
  info: Record<string, unknown>;
  droppedHistograms: string[];
  convertedHistograms: number;
}

/**
 * Deepest nesting of objects and arrays accepted. Real pings nest about ten
 * levels; JSON.parse accepts any depth but JSON.stringify overflows the stack
 * at a few thousand, which would crash the worker while writing the record.
 */
export const MAX_PING_DEPTH = 100;

/** Where a v4 `application` field goes in the created `info` (SPEC 4.1 order). */
const APPLICATION_TO_INFO: readonly (readonly [info: string, application: string])[] = [
  ['appName', 'name'],
  ['appUpdateChannel', 'channel'],
  ['appVersion', 'version'],
  ['appBuildID', 'buildId'],
  ['arch', 'architecture'],
  ['platformVersion', 'platformVersion'],
  ['xpcomAbi', 'xpcomAbi'],
  ['vendor', 'vendor'],
];

/** Firefox OS 1.3 fields that become `info` dimensions. */
const DEVICEINFO_TO_INFO: readonly (readonly [info: string, deviceinfo: string])[] = [
  ['appUpdateChannel', 'update_channel'],
  ['appBuildID', 'platform_build_id'],
  ['appVersion', 'platform_version'],
];

/** Unified ping types whose payload carries histograms to convert. */
const HISTOGRAM_PING_TYPES: ReadonlySet<string> = new Set(['main', 'saved-session']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function badPayload(message: string): PingError {
  return new PingError('bad_payload', message);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return Array.isArray(value) ? 'an array' : typeof value;
}

function requireInfo(ping: Record<string, unknown>, what: string): Record<string, unknown> {
  const info = ping.info;
  if (!isPlainObject(info)) throw badPayload(`${what} ping has no info object (info is ${describe(info)})`);
  return info;
}

/** A value copied into `info` as a dimension source: a JSON scalar, or absent (undefined/null). */
function dimensionSource(value: unknown, field: string): string | number | boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  throw badPayload(`${field} is ${describe(value)}, not a string`);
}

/**
 * Converts `container.histograms` in place (container is already a copy)
 * with the definitions of `info.revision`. The fast path (fast-path.ts)
 * puts a ScannedHistograms there instead of the parsed object: it becomes
 * a RawJson of the converted histograms.
 */
async function convertHistogramsOf(
  container: Record<string, unknown>,
  info: Record<string, unknown>,
  where: string,
  revisions: RevisionSource,
): Promise<{ dropped: string[]; converted: number; histograms: object }> {
  const submitted = container.histograms;
  if (!isPlainObject(submitted)) throw badPayload(`${where}histograms is ${describe(submitted)}, not an object`);
  const revision = info.revision;
  if (revision === undefined || revision === null) {
    throw new PingError('missing_revision', `${where}info.revision is missing`);
  }
  if (typeof revision !== 'string') {
    throw new PingError('missing_revision', `${where}info.revision is ${describe(revision)}, not a URL`);
  }
  // Malformed URLs are refused here, by the same parser the revision cache
  // uses, so every RevisionSource sees only well-formed ones.
  parseRevisionUrl(revision);
  const definitions = await revisions.get(revision);
  if (submitted instanceof ScannedHistograms) {
    const { raw, dropped, converted } = submitted.convert(definitions);
    container.histograms = raw;
    return { dropped, converted, histograms: raw };
  }
  const { histograms, dropped } = convertHistograms(submitted, definitions);
  container.histograms = histograms;
  return { dropped, converted: Object.keys(histograms).length, histograms };
}

async function convertClassic(ping: Record<string, unknown>, revisions: RevisionSource): Promise<ConversionResult> {
  const info = requireInfo(ping, 'ver 1');
  const out = { ...ping };
  let dropped: string[] = [];
  let converted = 0;
  let skip: object | undefined;
  // As the 2013 converter: without histograms nothing needs the revision's definitions.
  if (Object.hasOwn(ping, 'histograms')) {
    const result = await convertHistogramsOf(out, info, '', revisions);
    ({ dropped, converted } = result);
    skip = result.histograms;
  }
  out.ver = 2;
  return finish(out, info, dropped, converted, skip);
}

/** A Firefox OS field: the flat dotted key the 1.3 FTU ping sends, else a nested `deviceinfo` object. */
function deviceField(ping: Record<string, unknown>, field: string): string | number | boolean | undefined {
  const flatKey = `deviceinfo.${field}`;
  if (Object.hasOwn(ping, flatKey)) return dimensionSource(ping[flatKey], flatKey);
  const deviceinfo = ping.deviceinfo;
  return isPlainObject(deviceinfo) ? dimensionSource(deviceinfo[field], flatKey) : undefined;
}

function convertFirefoxOs(ping: Record<string, unknown>): ConversionResult {
  const info: Record<string, unknown> = { reason: 'ftu', appName: 'FirefoxOS' };
  for (const [infoField, sourceField] of DEVICEINFO_TO_INFO) {
    info[infoField] = deviceField(ping, sourceField) ?? 'UNKNOWN';
  }
  const out: Record<string, unknown> = { ...ping, info };
  delete out.pingID;
  out.ver = 2;
  return finish(out, info, [], 0, undefined);
}

async function convertUnified(ping: Record<string, unknown>, revisions: RevisionSource): Promise<ConversionResult> {
  const type = ping.type;
  if (typeof type !== 'string' || type.length === 0) throw badPayload(`version 4 ping type is ${describe(type)}, not a non-empty string`);
  const application = ping.application;
  if (!isPlainObject(application)) throw badPayload(`version 4 ping application is ${describe(application)}, not an object`);
  const payload = ping.payload;
  if (!isPlainObject(payload)) throw badPayload(`version 4 ping payload is ${describe(payload)}, not an object`);
  if (Object.hasOwn(ping, 'info')) throw badPayload('version 4 ping already has a top-level info');

  const info: Record<string, unknown> = {};
  for (const [infoField, applicationField] of APPLICATION_TO_INFO) {
    const value = dimensionSource(application[applicationField], `application.${applicationField}`);
    if (value !== undefined) info[infoField] = value;
  }
  info.reason = type;

  const out: Record<string, unknown> = { ...ping };
  let dropped: string[] = [];
  let converted = 0;
  let skip: object | undefined;
  if (HISTOGRAM_PING_TYPES.has(type)) {
    const payloadInfo = payload.info;
    if (!isPlainObject(payloadInfo)) throw badPayload(`${type} ping payload.info is ${describe(payloadInfo)}, not an object`);
    if (!Object.hasOwn(payload, 'histograms')) throw badPayload(`${type} ping has no payload.histograms`);
    const outPayload = { ...payload };
    const result = await convertHistogramsOf(outPayload, payloadInfo, 'payload.', revisions);
    ({ dropped, converted } = result);
    skip = result.histograms;
    out.payload = outPayload;
  }
  out.version = 5;
  out.info = info;
  return finish(out, info, dropped, converted, skip);
}

/** Already converted (ver 2, version 5): stored unchanged, but dimensions still need info. */
function keepConverted(ping: Record<string, unknown>, what: string): ConversionResult {
  return finish(ping, requireInfo(ping, what), [], 0, undefined);
}

/** The payload version: `ver` (1..3, classic) or, without it, `version` (4..5, unified). */
function payloadVersion(ping: Record<string, unknown>): 1 | 2 | 3 | 4 | 5 {
  if (Object.hasOwn(ping, 'ver')) {
    const ver = ping.ver;
    if (ver === 1 || ver === 2 || ver === 3) return ver;
    throw badPayload(`Unknown payload version: ver ${describe(ver)}`);
  }
  if (Object.hasOwn(ping, 'version')) {
    const version = ping.version;
    if (version === 4 || version === 5) return version;
    throw badPayload(`Unknown payload version: version ${describe(version)}`);
  }
  throw badPayload('Missing payload version');
}

/**
 * Converts one parsed ping. Resolves with the stored form; rejects with a
 * PingError for a bad ping, or with whatever `revisions.get` rejected with.
 */
export async function convertPing(ping: unknown, revisions: RevisionSource): Promise<ConversionResult> {
  if (!isPlainObject(ping)) throw badPayload(`ping is ${describe(ping)}, not a JSON object`);
  const version = payloadVersion(ping);
  switch (version) {
    case 1:
      return convertClassic(ping, revisions);
    case 2:
      return keepConverted(ping, 'ver 2');
    case 3:
      return convertFirefoxOs(ping);
    case 4:
      return convertUnified(ping, revisions);
    case 5:
      return keepConverted(ping, 'version 5');
  }
}

function finish(
  ping: Record<string, unknown>,
  info: Record<string, unknown>,
  droppedHistograms: string[],
  convertedHistograms: number,
  converted: object | undefined,
): ConversionResult {
  // Scanned histograms this version does not convert are stored as submitted: the general path does that.
  if (ping.histograms instanceof ScannedHistograms) throw CONVERSION_FALLBACK;
  if (isPlainObject(ping.payload) && ping.payload.histograms instanceof ScannedHistograms) throw CONVERSION_FALLBACK;
  assertStorable(ping, converted);
  return { ping, info, droppedHistograms, convertedHistograms };
}

/**
 * Refuses what JSON.stringify would crash on or silently alter: nesting past
 * MAX_PING_DEPTH (stack overflow, and cycles), non-finite numbers (stored as
 * null), and non-JSON values. Iterative so the check itself cannot overflow;
 * `skip` is the freshly converted histograms, safe by construction.
 */
export function assertStorable(root: Record<string, unknown>, skip: object | undefined): void {
  const stack: object[] = [root];
  const depths: number[] = [1];
  for (let value = stack.pop(); value !== undefined; value = stack.pop()) {
    const depth = depths.pop() as number;
    // Object.keys + index is the fastest no-surprise walk measured on real pings.
    const keys = Array.isArray(value) ? undefined : Object.keys(value);
    const length = keys === undefined ? (value as unknown[]).length : keys.length;
    for (let i = 0; i < length; i++) {
      const child: unknown = keys === undefined ? (value as unknown[])[i] : (value as Record<string, unknown>)[keys[i] as string];
      if (typeof child === 'object' && child !== null) {
        if (child === skip) continue;
        if (depth >= MAX_PING_DEPTH) throw badPayload(`ping nests deeper than ${MAX_PING_DEPTH} levels`);
        stack.push(child);
        depths.push(depth + 1);
      } else if (typeof child === 'number') {
        if (!Number.isFinite(child)) throw badPayload('ping holds a number out of range');
      } else if (typeof child !== 'string' && typeof child !== 'boolean' && child !== null) {
        throw badPayload(`ping holds a non-JSON value (${typeof child})`);
      }
    }
  }
}
