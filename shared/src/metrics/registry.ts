/**
 * Every app's Prometheus registry starts here: Node's standard process
 * metrics without a prefix (process_cpu_seconds_total,
 * process_resident_memory_bytes, nodejs_heap_size_used_bytes…, the names
 * stock Node.js dashboards use) and `telemetry_build_info`.
 */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { packageVersionInfo, type VersionInfo } from '../config/ops.js';

export type AppName = 'gateway' | 'workers' | 'stats';

export interface AppRegistryOptions {
  /** The standard process metrics (default true; tests turn them off to keep the text small). */
  readonly defaultMetrics?: boolean;
  /** What telemetry_build_info reports (default: package.json's version, commit unknown). */
  readonly version?: VersionInfo;
}

export function createAppRegistry(app: AppName, options: AppRegistryOptions = {}): Registry {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const version = options.version ?? packageVersionInfo();
  new Gauge({
    name: 'telemetry_build_info',
    help: 'Always 1: the app, its version and commit (version.json) and the Node.js version',
    labelNames: ['app', 'version', 'commit', 'node_version'],
    registers: [registry],
    // Summed over a pool's processes it would count them: it stays 1.
    aggregator: 'max',
  }).set({ app, version: version.version, commit: version.commit, node_version: process.version }, 1);
  return registry;
}
