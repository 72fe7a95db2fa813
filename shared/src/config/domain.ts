import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { sizeBytesField } from './units.js';

/** The repository's shared/ folder (this file is shared/src/config/domain.ts). */
const SHARED_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The production dimension schema of 2013-2015, shipped with the project. */
export const DEFAULT_SCHEMA_FILE = path.join(SHARED_DIR, 'schema', 'telemetry_schema.json');

/** The allowed values of the generic layout (Glean pings), per namespace, shipped with the project. */
export const DEFAULT_GENERIC_SCHEMA_FILE = path.join(SHARED_DIR, 'schema', 'generic_schema.json');

/** Variables every app that converts pings reads (SPEC 8). */
export const conversionEnvShape = {
  HG_SERVER: z.url().default('https://hg.mozilla.org'),
  REVISION_CACHE_DIR: z.string().default('./var/revision-cache'),
  SCHEMA_FILE: z.string().default(DEFAULT_SCHEMA_FILE),
  MAX_UNCOMPRESSED: sizeBytesField('10MiB'),
};
