/** The count test job without its combine: reduce then gets one value per record. */
export { map, reduce, setupReduce } from './count.js';
