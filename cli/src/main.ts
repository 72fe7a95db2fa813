import { Command, CommanderError } from 'commander';
import { ConfigError } from '@telemetry/shared/config/env';
import { registerConvert } from './commands/convert.js';
import { registerDeadLetters } from './commands/dead-letters.js';
import { registerDeletionRequests } from './commands/deletion-requests.js';
import { registerMapreduce, registerMapreduceWorker } from './commands/mapreduce.js';
import { registerReplay } from './commands/replay.js';
import { registerRevisions } from './commands/revisions.js';
import { UsageError } from './usage-error.js';

/** Usage errors exit with 2 (SPEC 10). */
const USAGE_EXIT_CODE = 2;

function buildProgram(): Command {
  const program = new Command('telemetry')
    .description('Telemetry pipeline tools')
    .exitOverride()
    .showHelpAfterError();
  registerConvert(program);
  registerReplay(program);
  registerDeadLetters(program);
  registerDeletionRequests(program);
  registerRevisions(program);
  registerMapreduce(program);
  registerMapreduceWorker(program);
  return program;
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version are not errors.
      return error.exitCode === 0 ? 0 : USAGE_EXIT_CODE;
    }
    // A bad option or a bad environment variable: the command cannot run as asked.
    if (error instanceof UsageError || error instanceof ConfigError) {
      process.stderr.write(`telemetry: ${error.message}\n`);
      return USAGE_EXIT_CODE;
    }
    throw error;
  }
}

