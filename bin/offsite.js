#!/usr/bin/env node
// Node 20 is supported on purpose: the AWS SDK is pinned to a release that runs on it (see docs/design.md).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
if (process.env.OFFSITE_DEBUG) process.setSourceMapsEnabled(true);

// One bundled file (scripts/bundle.mjs): loading it is 0.3 s faster than loading dist/ module by module.
const { main } = await import('../dist/offsite.mjs');
await main(process.argv);
