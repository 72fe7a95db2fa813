/** YYYYMMDD of a UTC instant: the `submission_date` dimension. */
export function utcDateStamp(ms: number): string {
  const date = new Date(ms);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth() + 1;
  const day = date.getUTCDate();
  return `${year}${month < 10 ? '0' : ''}${month}${day < 10 ? '0' : ''}${day}`;
}

/** Midnight UTC of a YYYYMMDD stamp, or undefined when it is not a real date. */
export function parseDateStamp(stamp: string): number | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(stamp);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const ms = Date.UTC(year, month - 1, day);
  return utcDateStamp(ms) === stamp ? ms : undefined;
}
