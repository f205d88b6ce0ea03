/** Every fuzz target, in the order the runner starts them (the slowest first, so the two workers finish together). */
import type { FuzzTarget } from '../engine.js';
import { ageFileTarget, ageStreamTarget } from './age.js';
import { chunkedTarget } from './chunked.js';
import { configTarget } from './config.js';
import { filesIndexTarget } from './files-index.js';
import { keyFilesTarget } from './key-files.js';
import { keysTarget } from './keys.js';
import { dbManifestTarget, filesManifestTarget, sealedTarget, signedManifestTarget } from './manifests.js';
import { opensslTarget } from './openssl.js';
import { chunkIndexTarget, filesCacheTarget, rowCountsTarget } from './state.js';
import { timesTarget } from './times.js';
import { transactionGuardTarget } from './transaction-guard.js';
import { zstdTarget } from './zstd.js';

export const TARGETS: readonly FuzzTarget[] = [
  chunkedTarget,
  ageStreamTarget,
  ageFileTarget,
  configTarget,
  signedManifestTarget,
  opensslTarget,
  zstdTarget,
  filesCacheTarget,
  chunkIndexTarget,
  rowCountsTarget,
  transactionGuardTarget,
  dbManifestTarget,
  filesManifestTarget,
  sealedTarget,
  filesIndexTarget,
  timesTarget,
  keysTarget,
  keyFilesTarget,
];
