// The histogram of SPEC 4.2 (DOM_TIMERS_FIRED_PER_NATIVE_TIMEOUT) and its converted form.

/** The submitted histogram, fresh for each use (tests mutate it). */
export const specSubmittedHistogram = (): Record<string, unknown> => ({
  range: [1, 3000],
  bucket_count: 10,
  histogram_type: 0,
  values: { '0': 0, '1': 1232, '3': 7, '8': 2, '414': 1, '1114': 0 },
  sum: 1279,
  log_sum: 873.47,
  log_sum_squares: 624.02,
});

export const SPEC_CONVERTED = [0, 1232, 7, 2, 0, 0, 0, 1, 0, 0, 1279, 873.47, 624.02, -1, -1];
