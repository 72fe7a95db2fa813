/** Histogram kinds of Histograms.json. */
export const HISTOGRAM_KINDS = ['boolean', 'flag', 'count', 'enumerated', 'linear', 'exponential'] as const;
export type HistogramKind = (typeof HISTOGRAM_KINDS)[number];

/** One histogram's definition, compiled once per revision and reused for every ping. */
export interface CompiledHistogram {
  readonly name: string;
  readonly kind: HistogramKind;
  readonly low: number;
  readonly high: number;
  readonly bucketCount: number;
  /** Bucket lower bounds, bucket 0 first. */
  readonly bounds: readonly number[];
  /** Decimal text of a lower bound (a submitted `values` key) -> bucket index. */
  readonly indexByKey: ReadonlyMap<string, number>;
  /**
   * `bounds` again, as a typed array for the conversion fast path's binary
   * search (V8 reads a frozen array's elements several times slower).
   * Shared by every ping: never written to.
   */
  readonly boundsArray: Float64Array;
}

/** All histograms of one revision of Histograms.json. */
export interface HistogramDefinitions {
  get(name: string): CompiledHistogram | undefined;
  readonly size: number;
  names(): IterableIterator<string>;
}
