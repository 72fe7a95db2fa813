// Ported line for line from mozilla/telemetry-server mapreduce/examples/simple_counter.py (2013):
// a very simple MR job to count the occurrences of each key (duplicate submissions).
export function map(k, d, v, cx) {
  cx.write(k, 1);
}

export function reduce(k, v, cx) {
  cx.write(k, v.reduce((a, b) => a + b, 0));
}
