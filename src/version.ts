/** The running Offsite version, as recorded in manifests. */
import { createRequire } from 'node:module';

const packageJson = createRequire(import.meta.url)('../package.json') as { version: string };

export const TOOL_VERSION: string = packageJson.version;
