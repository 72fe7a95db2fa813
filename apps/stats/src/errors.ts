/** The stats app's typed errors, each mapped to one answer in app.ts's onError. */

/** A query the API refuses as asked (bad parameters, over its budget): 400 with the message. */
export class BadRequest extends Error {
  override readonly name: string = 'BadRequest';
}

/** A dimension query that would read more counters than STATS_QUERY_MAX_COUNTERS: a 400, counted apart. */
export class OverBudget extends BadRequest {
  override readonly name = 'OverBudget';
}

/** Too many queries or streams at once: 503 with Retry-After, the message says which limit. */
export class Overloaded extends Error {
  override readonly name = 'Overloaded';
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    readonly limit: 'queries' | 'streams',
  ) {
    super(message);
  }
}
