// SlowSQL export, ported line for line from mozilla/telemetry-server mapreduce/examples/slowsql.py
// (2013), itself from telemetry-toolbox. One fix: its reduce kept keys starting with "TOTAL,",
// which a key written by safe_key (every text field quoted) never does.
const stringLiteralPattern = /(['"])(.+?)\1/g;
function replaceQuotedValues(sql) {
  // Replace single- or double-quoted literals:
  return sql.replace(stringLiteralPattern, ':private');
}

function sanitize(jsonString) {
  const parsed = JSON.parse(jsonString);
  if ('slowSQL' in parsed) {
    if ('otherThreads' in parsed.slowSQL) {
      const sanitized = {};
      for (const [sql, arr] of Object.entries(parsed.slowSQL.otherThreads)) {
        const newKey = replaceQuotedValues(sql);
        // Sanitizing might result in different raw queries becoming
        // the same, so in that case we have to combine their data.
        if (!(newKey in sanitized)) {
          sanitized[newKey] = arr;
        } else {
          const newArr = arr;
          for (let i = 0; i < sanitized[newKey].length; i++) {
            const oldVal = sanitized[newKey][i];
            if (i >= newArr.length) newArr.push(oldVal);
            else newArr[i] += oldVal;
          }
          sanitized[newKey] = newArr;
        }
      }
      parsed.slowSQL.otherThreads = sanitized;
    }
  }
  return parsed;
}

// Make sure the keys come out csv-friendly - all on one line, and surrounded by
// double-quotes, and with any double-quotes inside doubled up per usual (csv.QUOTE_NONNUMERIC).
function safeKey(pieces) {
  return pieces.map((p) => (typeof p === 'number' ? String(p) : `"${String(p).replaceAll('"', '""')}"`)).join(',');
}

export function map(k, d, v, cx) {
  const [reason, appName, appUpdateChannel, appVersion, appBuildID, submission_date] = d;
  cx.write(safeKey(['TOTAL', submission_date, appName, appVersion, appUpdateChannel, 'ALL_PINGS']), [1, 0]);
  if (!v.includes('"slowSQL":')) return;
  if (v.includes('"slowSQL":{"mainThread":{},"otherThreads":{}}')) return;
  try {
    const j = sanitize(v);
    const slowSQL = j.slowSQL;
    for (const [threadType, queries] of Object.entries(slowSQL)) {
      for (const [query, arr] of Object.entries(queries)) {
        cx.write(safeKey([threadType, submission_date, appName, appVersion, appUpdateChannel, query]), arr);
      }
    }
  } catch (e) {
    cx.write(safeKey(['Error', String(e), e.stack, ...d]), [1, 0]);
  }
  // Unpacked, unused, as in 2013.
  void reason;
  void appBuildID;
}

export function setupReduce(cx) {
  cx.fieldSeparator = ',';
}

function median(v, alreadySorted = false) {
  const ls = v.length;
  if (ls === 0) return 0;
  const s = alreadySorted ? v : [...v].sort((a, b) => a - b);
  const middle = Math.floor(ls / 2);
  if (ls % 2 === 1) return s[middle];
  return (s[middle] + s[middle - 1]) / 2.0;
}

const sum = (values) => values.reduce((a, b) => a + b, 0);

export function reduce(k, v, cx) {
  let counts = [];
  let durations = [];
  // Each ping can include multiple executions of a given query. Compute
  // the average time per query for use in the median below. Since all we
  // get is [count, total_duration], this is the best estimation of the
  // actual median we can make.
  const avgs = [];
  try {
    for (const [c, d] of v) {
      counts.push(c);
      durations.push(d);
      if (c > 0) avgs.push(d / c);
      else avgs.push(0);
    }
  } catch (e) {
    // This will happen if 'arr' is an int instead of an array, for example.
    if (!(e instanceof TypeError)) throw e;
    counts = [0];
    durations = [0];
    if (!k.startsWith('"Error",')) k = `"Error",${k}`;
  }
  // Always output TOTAL and Error lines. Otherwise only output queries that
  // have been invoked more than N times.
  const totalInvocations = sum(counts);
  if (totalInvocations > 100 || k.startsWith('"TOTAL",') || k.startsWith('"Error",')) {
    // Output fields:
    //   thread_type, submission_date, app_name, app_version,
    //   app_update_channel, query, document_count, total_invocations,
    //   total_duration, median_duration
    cx.write([k, String(v.length), String(totalInvocations), String(sum(durations))].join(','), median(avgs));
  }
}
