// `npm run build`, second step: bundles what tsc wrote into dist/offsite.mjs, the one file
// bin/offsite.js loads. Node's ESM loader pays per module: resolving and reading the ~600 files
// of the AWS SDK, pino, zod and age took 0.3 s of every command's start (backup db on a 200 MB
// database: 4.0 s → 3.3 s). zstd-napi stays outside: it loads a native addon.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/cli/main.js'],
  outfile: 'dist/offsite.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20.19',
  external: ['zstd-napi', 'zstd-napi/*'],
  // Bundled CommonJS (the AWS SDK, pg) calls require for Node's built-ins.
  banner: {
    js: "import { createRequire as offsiteCreateRequire } from 'node:module'; const require = offsiteCreateRequire(import.meta.url);",
  },
  // Stack traces under OFFSITE_DEBUG point into src/ (bin/offsite.js turns source maps on then).
  sourcemap: 'linked',
  logLevel: 'warning',
});
