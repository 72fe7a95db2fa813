/** `npm run stats`: the stats consumer, API and dashboard (process title telemetry-stats). */
import { ConfigError } from '@telemetry/shared/config/env';
import { createLogger } from '@telemetry/shared/logger';
import { CONFIG_ERROR_EXIT_CODE, stopOnSignals } from '@telemetry/shared/process/cluster-pool';
import { parseStatsConfig, type StatsConfig } from './config.js';
import { startStats } from './server.js';

process.title = 'telemetry-stats';
const logger = createLogger('stats');

let config: StatsConfig;
try {
  config = parseStatsConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    logger.fatal(error.message);
    process.exit(CONFIG_ERROR_EXIT_CODE);
  }
  throw error;
}

const stats = await startStats(config, logger);
stopOnSignals(logger, () => stats.stop());
