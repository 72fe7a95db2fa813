// Test job over the generic (Glean) layout: what dims look like there, per record, with reduce.
export function map(key, dims, value, ctx) {
  const ping = JSON.parse(value);
  ctx.write([dims.docType, dims[0]], {
    docId: key,
    file: ctx.file,
    list: [...dims],
    byName: [dims.namespace, dims.docType, dims.docVersion, dims.channel, dims.version, dims.submission_date],
    clientId: ping.client_info.client_id,
  });
}

export function reduce(key, values, ctx) {
  ctx.write(key, values);
}
