#!/usr/bin/env node
// Node 20 is supported on purpose: the AWS SDK is pinned to a release that runs on it (see docs/design.md).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { main } = await import('../dist/cli/main.js');
await main(process.argv);
