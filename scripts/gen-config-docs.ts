// `npm run docs:config`: writes docs/configuration.md from the settings table (src/config/settings.ts).
// src/config/config-docs.test.ts fails when the file is stale.
import { writeFileSync } from 'node:fs';
import { CONFIG_DOCS_PATH, renderConfigDocs } from '../src/config/config-docs.js';

const path = new URL(`../${CONFIG_DOCS_PATH}`, import.meta.url);
writeFileSync(path, renderConfigDocs());
process.stderr.write(`wrote ${CONFIG_DOCS_PATH}\n`);
