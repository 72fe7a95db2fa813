/** The batch side (SPEC 7): MapReduce over the storage layout, locally or as BullMQ flows. */
export { runMapReduce, DEFAULT_COMBINE_THRESHOLD } from './run.js';
export type { MapReduceOptions, MapReduceResult, PlanSummary, RunProgress } from './run.js';
export type { MapReduceJob, MapContext, WriteContext, SetupReduceContext, JobParams } from './job-api.js';
export { loadInputFilter, compileInputFilter, allowAllFilter, selectInputFiles } from './input-filter.js';
export type { InputFilter, InputFile } from './input-filter.js';
export { parseMapreduceConfig } from './config.js';
export type { MapreduceConfig } from './config.js';
export { queueNames } from './distributed/options.js';
export type { DistributedOptions, QueueNames } from './distributed/options.js';
export { startMapreduceWorker, HISTOGRAM_SCHEDULER_ID } from './distributed/worker.js';
export { runHistogramAggregates, HISTOGRAM_JOB } from './histograms/run.js';
export type { HistogramAggregatesOptions, HistogramAggregatesResult } from './histograms/run.js';
export { INDEX_FILE } from './histograms/publish.js';
export type { HistogramIndex, IndexEntry } from './histograms/publish.js';
