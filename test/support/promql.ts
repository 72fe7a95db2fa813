/**
 * The metric names a PromQL expression reads, and the sample names of a
 * Prometheus text exposition: enough to check that dashboards and alert
 * rules name only metrics that exist. Not a PromQL parser: strings, label
 * matchers, ranges, grouping clauses and Grafana variables are removed, then
 * every identifier that is not a function call, a keyword or a number's
 * suffix is a metric name.
 */
const KEYWORDS = new Set(['and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'inf', 'nan', 'atan2']);

export function metricNames(expr: string): Set<string> {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?\w+\}?/g, ' ');
  const names = new Set<string>();
  for (const match of stripped.matchAll(/(?<![\w:.])([A-Za-z_:][\w:]*)(\s*\()?/g)) {
    const [, name = '', call] = match;
    if (call === undefined && !KEYWORDS.has(name.toLowerCase())) names.add(name);
  }
  return names;
}

/** Names of the samples in a text exposition (`x_bucket`, `x_sum`, `x_count` for a histogram x). */
export function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/^([A-Za-z_:][\w:]*)[{ ]/gm)) if (match[1]) names.add(match[1]);
  return names;
}
