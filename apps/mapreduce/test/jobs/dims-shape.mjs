// Test job, map-only: what dims looks like to a job, per record.
export function map(_key, dims, _value, ctx) {
  let frozen = false;
  try {
    dims[0] = 'changed';
  } catch {
    frozen = true;
  }
  const [reason, appName] = dims;
  ctx.write(ctx.file, {
    list: [...dims],
    json: JSON.stringify(dims),
    keys: Object.keys(dims),
    length: dims.length,
    five: dims[5],
    last: dims.at(-1),
    byName: dims.submission_date,
    channel: dims.appUpdateChannel,
    unpacked: [reason, appName],
    joined: dims.join(','),
    concat: ['Error'].concat(dims).length,
    isArray: Array.isArray(dims),
    frozen,
  });
}
