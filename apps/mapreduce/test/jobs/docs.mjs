// Test job, map-only and plain JavaScript: one line per record, the docId and where it was read.
export function map(key, dims, _value, ctx) {
  ctx.write(key, { file: ctx.file, date: dims.submission_date });
}
