// Test job: the reduce context's writecsv and writeline, with the separators of setupReduce.
export function map(_key, dims, _value, ctx) {
  ctx.write(dims.appUpdateChannel, 1);
}

export function setupReduce(ctx) {
  if (ctx.params.fieldSeparator !== undefined) ctx.fieldSeparator = ctx.params.fieldSeparator;
}

export function reduce(key, values, ctx) {
  ctx.writecsv([key, values.length, 'a,b', 'tab\there', 'say "hi"', 'two\nlines', null, undefined, true, { n: 1 }]);
  ctx.writeline(`# ${key} done`);
  ctx.write(key, values.length);
}
