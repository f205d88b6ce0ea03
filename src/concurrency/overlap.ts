/** A run that did not start because another run of the same job holds its lock: skipped, not failed. */
import { OffsiteError } from '../errors.js';

export class AlreadyRunningError extends OffsiteError {
  override name = 'AlreadyRunningError';

  constructor(message: string) {
    super('failed', message);
  }
}

export const isAlreadyRunning = (error: unknown): error is AlreadyRunningError => error instanceof AlreadyRunningError;
