// Lint: typescript-eslint's type-checked strict rules, TSDoc syntax, and the layer rules of
// docs/design.md ("Layers"): imports point one way, from the CLI down to the building blocks.
import js from '@eslint/js';
import globals from 'globals';
import tsdoc from 'eslint-plugin-tsdoc';
import tseslint from 'typescript-eslint';

/** Folders that the files of a layer may not import from, with the reason shown on a violation. */
const layer = (files, forbidden, why) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      {
        patterns: [
          ...forbidden.map((folder) => ({ group: [`**/${folder}/*`, `**/${folder}/**`], message: why })),
          { group: ['commander'], message: why },
        ],
      },
    ],
  },
});
const BUILDING_BLOCKS = ['format', 'pipeline', 'processes', 'report', 'state', 'store', 'concurrency', 'dedup', 'http'];
const blocks = BUILDING_BLOCKS.map((folder) => `src/${folder}/**/*.ts`);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.stack/', 'coverage/', 'bench/work/'] },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { tsdoc },
    rules: {
      'tsdoc/syntax': 'error',
      // Template literals of numbers and booleans read well in messages; objects still may not.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // `() => resolve()` and `(err) => reject(err)` are the idiom for callbacks; a statement body adds noise.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
    },
  },
  layer(
    blocks,
    ['cli', 'config', 'jobs', 'schedule', 'recipes'],
    'building blocks know nothing of the CLI, settings, jobs or the scheduler',
  ),
  layer(['src/recipes/**/*.ts'], ['cli', 'config', 'jobs', 'schedule'], 'recipes are pure generators'),
  layer(
    ['src/jobs/**/*.ts'],
    ['cli', 'config', 'schedule'],
    'jobs take typed options: they never read settings or the CLI',
  ),
  layer(['src/config/**/*.ts'], ['cli', 'jobs'], 'settings are read by the CLI and handed down'),
  layer(['src/schedule/**/*.ts'], ['cli'], 'the scheduler runs jobs; the CLI starts it'),
  {
    files: ['**/*.test.ts', '**/*.contract.ts', 'test/**/*.ts', 'bench/**/*.ts', 'fuzz/**/*.ts'],
    rules: {
      // node:test's describe/it return promises that the runner awaits.
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Fakes implement async interfaces without having anything to wait for.
      '@typescript-eslint/require-await': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['**/*.js', '**/*.mjs'], languageOptions: { globals: globals.node } },
);
