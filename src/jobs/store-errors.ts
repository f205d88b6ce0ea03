/** A store failure as the user sees it: settings to fix (exit 2) or a failure to retry (exit 1). */
import { configError, jobFailed, type OffsiteError } from '../errors.js';
import type { StoreError } from '../store/store.js';

export const fromStoreError = (error: StoreError, suffix = ''): OffsiteError =>
  error.kind === 'config'
    ? configError(`${error.message}${suffix}`, error)
    : jobFailed(`${error.message}${suffix}`, error);
