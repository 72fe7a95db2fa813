/**
 * The compression process (forked by LowPriorityCompressor): compresses the
 * finished files it is sent, one message each, and answers with the result.
 * It runs at a lower CPU priority than the worker that forked it, so that
 * compressing finished files never slows persisting new ones.
 */
import { compressFileAtomically } from './compress-file.js';
import type { CompressionRequest, CompressionReply } from './compression-process.js';

process.title = 'telemetry-compress';

process.on('message', (message: CompressionRequest) => {
  compressFileAtomically(message.src, message.compression).then(
    (dst) => process.send?.({ id: message.id, dst } satisfies CompressionReply),
    (error: unknown) => process.send?.({ id: message.id, error: error instanceof Error ? error.message : String(error) } satisfies CompressionReply),
  );
});
// The worker's end of the IPC channel closed: nothing more will come.
process.on('disconnect', () => process.exit(0));
