/**
 * The small valid classic ping of the fault tests, in a module of its own
 * (no test framework imported), so processes that are not tests, such as the
 * cluster harness's client (test/cluster/client.ts), send the same pings.
 */
const REVISION = 'http://hg.mozilla.org/releases/mozilla-release/rev/a55c55edf302';
const VERSIONS = ['23.0.1', '24.0', '25.0'];

/** A small valid classic ping (one histogram of a real revision); `n` spreads them over a few partitions. */
export function classicPing(n: number): string {
  return JSON.stringify({
    ver: 1,
    info: {
      reason: 'saved-session',
      appName: 'Firefox',
      appUpdateChannel: 'release',
      appVersion: VERSIONS[n % VERSIONS.length],
      appBuildID: '20130814063812',
      revision: REVISION,
    },
    histograms: {
      DOM_TIMERS_FIRED_PER_NATIVE_TIMEOUT: { range: [1, 3000], bucket_count: 10, histogram_type: 0, values: { '0': 0, '1': n % 7 }, sum: n % 7 },
    },
  });
}
