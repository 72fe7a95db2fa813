// Flash Versions export, ported line for line from mozilla/telemetry-server
// mapreduce/examples/flash_versions.py (2013), itself from telemetry-toolbox.
export function map(k, d, v, cx) {
  try {
    const j = JSON.parse(v);
    const info = j.info ?? {};
    if (!('OS' in info)) return;
    if (!('appName' in info)) return;

    const os = info.OS;
    const appName = info.appName;

    // Keep [Metro]Firefox documents on windows only
    if (appName === 'Firefox' || appName === 'MetroFirefox') {
      if (os !== 'WINNT') return;
      // Also keep all Fennec documents.
    } else if (appName !== 'Fennec') {
      return;
    }

    const outDims = [appName];
    for (const f of ['appVersion', 'appUpdateChannel']) outDims.push(info[f] ?? 'NA');
    outDims.push(os);
    for (const f of ['version', 'flashVersion']) outDims.push(info[f] ?? 'NA');

    cx.write(outDims.map((i) => String(i)).join(','), 1);
  } catch (e) {
    // Python: ",".join(["Error", str(e), traceback.format_exc()] + d)
    cx.write(['Error', String(e), e.stack].concat(d).join(','), 1);
  }
}

export function setupReduce(cx) {
  cx.fieldSeparator = ',';
}

export function reduce(k, v, cx) {
  cx.write(k, v.reduce((a, b) => a + b, 0));
}

// Python: combine = reduce
export const combine = (k, v, cx) => reduce(k, v, cx);
