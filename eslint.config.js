// One lint config for the whole tree. The core rule is the important one: source/core is the
// pure domain and must never reach for UI or I/O (docs/architecture.md, Practices 1).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';

const ioModules = [
  'ink',
  'react',
  'zeromq',
  'nats',
  'systeminformation',
  'conf',
  'fs',
  'node:fs',
  'fs/promises',
  'node:fs/promises',
  'net',
  'node:net',
  'http',
  'node:http',
  'child_process',
  'node:child_process',
  'dgram',
  'node:dgram',
  'os',
  'node:os',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.scratch*/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    plugins: { 'react-hooks': reactHooks },
    rules: {
      ...reactHooks.configs.recommended.rules,
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // Typed rules where the type checker sees what a reader cannot: a promise nobody awaits or
  // catches, a promise passed where a callback's result is ignored, an await of a non-promise.
  // (The full type-checked preset is issue 17's next step: ~100 findings, mostly style.)
  {
    files: ['source/**/*.ts', 'source/**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { attributes: false } },
      ],
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    files: ['source/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: ioModules.map((name) => ({
            name,
            message: 'source/core is pure: no UI and no I/O.',
          })),
          patterns: [
            {
              group: [
                '**/adapters/**',
                '**/stores/**',
                '**/screens/**',
                '**/components/**',
                '**/hooks/**',
              ],
              message: 'source/core must not depend on outer layers.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['bin/**/*.js', 'scripts/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
