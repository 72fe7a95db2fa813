/**
 * Generated storage files for the dashboard job: several OSes (Linux with a
 * long kernel version), arches, builds, submission dates (one more than 60
 * days after its build), two channels, ver 2 and version 5 records, simple
 * measures with nested objects, non-numbers, a negative and two huge values
 * (their sum overflows), and a record whose build id is not a date.
 */
import { docId, makeHistograms, bucketOracle, REV_24, REV_24_URL, rng, storageLines, writeStorageFile } from './generate.js';

const SYSTEMS = [
  { OS: 'WINNT', version: '6.1', arch: 'x86' },
  { OS: 'WINNT', version: '6.2', arch: 'x86-64' },
  { OS: 'Linux', version: '3.2.0-4-amd64', arch: 'x86-64' },
  { OS: 'Darwin', version: '12.5.0', arch: 'x86-64' },
] as const;

/** Histograms of the Firefox 24 revision in the records (exponential, linear, boolean, enumerated, and a STARTUP_ name). */
export const DASHBOARD_HISTOGRAMS = ['CYCLE_COLLECTOR', 'GC_MS', 'GC_MAX_PAUSE_MS', 'GC_IS_COMPARTMENTAL', 'A11Y_CONSUMERS', 'STARTUP_MEMORY_STORAGE_SQLITE'];

interface FileSpec {
  readonly path: string;
  readonly records: number;
  readonly unified?: boolean;
}

export const DASHBOARD_FILES: readonly FileSpec[] = [
  { path: 'saved_session/Firefox/nightly/26.0a1/20131001030201.20131001.v2.wA.1.log.gz', records: 12 },
  { path: 'saved_session/Firefox/nightly/26.0a1/20131001030201.20131003.v2.wA.2.log.gz', records: 9 },
  { path: 'saved_session/Firefox/nightly/26.0a1/20131001030201.20140101.v2.wB.1.log.gz', records: 3 },
  { path: 'saved_session/Firefox/nightly/26.0a1/20131002030202.20131003.v2.wB.2.log.gz', records: 10, unified: true },
  { path: 'saved_session/Firefox/nightly/26.0a1/20131003030203.20131004.v2.wA.3.log.gz', records: 8 },
  { path: 'idle_daily/Firefox/nightly/26.0a1/20131002030202.20131003.v2.wA.1.log.gz', records: 5 },
  { path: 'saved_session/Firefox/aurora/25.0a2/20131001004001.20131002.v2.wC.1.log.gz', records: 7 },
  { path: 'saved_session/Firefox/aurora/25.0a2/UNKNOWN.20131002.v2.wC.2.log.gz', records: 2 },
];

function ping(spec: FileSpec, index: number, random: () => number): string {
  const [reason = '', appName = '', channel = '', version = '', name = ''] = spec.path.split('/');
  const appBuildID = name.split('.')[0] ?? '';
  const huge = index < 2;
  const system = huge ? SYSTEMS[0] : (SYSTEMS[Math.floor(random() * SYSTEMS.length)] ?? SYSTEMS[0]);
  const histograms = makeHistograms(bucketOracle(REV_24), DASHBOARD_HISTOGRAMS.filter(() => random() < 0.8), random);
  const simpleMeasurements: Record<string, unknown> = {
    uptime: Math.floor(random() * 5000),
    firstPaint: Math.floor(random() * 40_000),
    js: { customIter: Math.floor(random() * 20), setProto: 0 },
    addonManager: { XPIDB_startup_load_reasons: ['appChanged'], XPIDB_parseDB_MS: Math.floor(random() * 9) },
    debuggerAttached: false,
    clockSkew: -5,
    // Twice in one cell (the first two records): the sum overflows.
    ...(huge ? { huge: 1.5e308 } : {}),
  };
  const info = { reason: reason.replace('_', '-'), appName, appUpdateChannel: channel, appVersion: version, appBuildID, revision: REV_24_URL, OS: system.OS, version: system.version, arch: system.arch };
  if (!spec.unified) return JSON.stringify({ ver: 2, info, histograms, simpleMeasurements });
  const { OS: osName, version: osVersion, revision, ...rest } = info;
  return JSON.stringify({
    version: 5,
    type: info.reason,
    info: rest,
    environment: { system: { os: { name: osName, version: osVersion } } },
    payload: { info: { reason: 'shutdown', revision }, histograms, simpleMeasurements },
  });
}

/** Writes the files under `root`; returns their relative paths. */
export async function buildDashboardDataSet(root: string): Promise<string[]> {
  const random = rng(2013);
  for (const [f, spec] of DASHBOARD_FILES.entries()) {
    const records = Array.from({ length: spec.records }, (_, i) => ({ docId: docId(`d${f}`, i), json: ping(spec, f * 100 + i, random) }));
    await writeStorageFile(root, spec.path, storageLines(records));
  }
  return DASHBOARD_FILES.map((spec) => spec.path);
}
