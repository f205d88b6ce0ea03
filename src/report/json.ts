/** A {@link Reporter} for machines: pino JSON lines on stderr, no progress noise. */
import { pino } from 'pino';
import type { Fields, Reporter } from './reporter.js';

export function createJsonReporter(): Reporter {
  const logger = pino(
    { base: { name: 'offsite' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 2, sync: true }),
  );
  return {
    progress: () => undefined,
    info: (message: string, fields?: Fields) => logger.info(fields ?? {}, message),
    warn: (message: string, fields?: Fields) => logger.warn(fields ?? {}, message),
    close: () => undefined,
  };
}
