// Ported line for line from mozilla/telemetry-server mapreduce/examples/distribution.py (2013):
// the distribution of one or more boolean/enumerated measurements. A record whose histogram has
// an unexpected length raises (Python: ValueError, a "Bad line"): skipped with --max-bad-records.
const keys = [
  ['A11Y_INSTANTIATED_FLAG', 2], // flag
  ['DNS_LOOKUP_METHOD2', 16], // 16-bucket
];

const extraHistogramEntries = 6; // bucketN, sum, log_sum, log_sum_squares, sum_squares_lo, sum_squares_hi

export function map(k, d, v, cx) {
  const j = JSON.parse(v);
  const histograms = j.histograms ?? {};

  let counts = [];
  for (const [key, buckets] of keys) {
    if (key in histograms) {
      const val = histograms[key];
      if (val.length !== buckets + extraHistogramEntries) throw new RangeError(`Unexpected length for key ${key}: ${JSON.stringify(val)}`);
      counts = counts.concat(val.slice(0, buckets));
    } else {
      counts = counts.concat(new Array(buckets).fill(0));
    }
  }
  cx.write(counts, 1);
}

export function reduce(k, v, cx) {
  cx.writecsv([...k, v.reduce((a, b) => a + b, 0)]);
}
