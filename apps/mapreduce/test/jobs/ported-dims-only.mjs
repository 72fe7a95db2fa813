// Ported from mozilla/telemetry-server mapreduce/examples/v2/dims_only.py (2013): records per
// submission date, the last dimension, indexed from the end as Python's d[-1].
export function map(k, d, v, cx) {
  cx.write([d.at(-1), d[d.length - 1] === d[5]], 1);
}

export function reduce(k, v, cx) {
  cx.write(k, v.reduce((a, b) => a + b, 0));
}
