/**
 * filter-tree.json of a published folder: a tree over reason → appName → OS
 * → osVersion → arch. Every node is `{"_id": n, "name": "<next level>",
 * "<value>": {…}}`, the root `{"_id": 0, "name": "reason", …}`, the leaves
 * (arch) `{"_id": n}`. Data arrays end with their leaf's id. Ids are never
 * reused: a new path gets the next id after the greatest in the tree.
 */
import { FILTER_LEVELS } from './record.js';

export interface FilterNode {
  _id: number;
  name?: string;
  [value: string]: FilterNode | number | string | undefined;
}

function isNode(value: unknown): value is FilterNode {
  return typeof value === 'object' && value !== null && typeof (value as { _id?: unknown })._id === 'number';
}

const isChildKey = (key: string): boolean => key !== '_id' && key !== 'name';

export class FilterTree {
  readonly root: FilterNode;
  private maxId: number;

  constructor(root?: unknown) {
    this.root = isNode(root) ? root : { _id: 0, name: FILTER_LEVELS[0] };
    this.maxId = FilterTree.maxIdOf(this.root);
  }

  private static maxIdOf(node: FilterNode): number {
    let max = node._id;
    for (const key of Object.keys(node)) {
      const child = node[key];
      if (isChildKey(key) && isNode(child)) max = Math.max(max, FilterTree.maxIdOf(child));
    }
    return max;
  }

  /** The leaf id of a full path (one value per level), created when new. */
  idOf(path: readonly string[]): number {
    if (path.length !== FILTER_LEVELS.length) throw new RangeError(`a filter path has ${FILTER_LEVELS.length} values, got ${path.length}`);
    let node = this.root;
    path.forEach((value, depth) => {
      const existing = Object.hasOwn(node, value) ? node[value] : undefined;
      if (isNode(existing)) {
        node = existing;
        return;
      }
      this.maxId += 1;
      const next = FILTER_LEVELS[depth + 1];
      const child: FilterNode = next === undefined ? { _id: this.maxId } : { _id: this.maxId, name: next };
      // defineProperty: a value is a plain key, whatever it is.
      Object.defineProperty(node, value, { value: child, enumerable: true, writable: true, configurable: true });
      node = child;
    });
    return node._id;
  }
}
