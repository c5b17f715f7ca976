// One lint config for the whole tree. The core rule is the important one: source/core is the
// pure domain and must never reach for UI or I/O (docs/architecture.md, Practices 1).
import { readFileSync } from 'node:fs';
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

/** Layer -> the layers it may import (its own always): the table import-graph.test.ts checks. */
const { '//': _about, ...MAY_IMPORT } = JSON.parse(
  readFileSync(new URL('./docs/layers.json', import.meta.url), 'utf8'),
);
/** The layers that are (or start with) one file at the top of source/. */
const LAYER_FILES = {
  app: ['source/app.tsx', 'source/app/**/*.ts', 'source/app/**/*.tsx'],
  console: ['source/console.tsx'],
  cli: ['source/cli.ts'],
  version: ['source/version.ts'],
};
const LAYER_PATTERNS = {
  app: ['**/app.js', '**/app/*.js'],
  // commands/console.ts is the `console` subcommand, not the console layer.
  console: ['../console.js', '../../console.js'],
  cli: ['**/cli.js'],
  version: ['**/version.js'],
};
/** What a store must not reach for: the bus and socket clients, files, processes. */
const storeBanned = ioModules.filter((m) => !['react', 'ink'].includes(m));

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
  // typescript-eslint's type-checked preset on the product's code: the type checker sees what a
  // reader cannot (a promise nobody awaits, an object printed as "[object Object]", a method
  // passed unbound, an `any` leaking out of a parse).
  {
    files: ['source/**/*.ts', 'source/**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    extends: [...tseslint.configs.recommendedTypeChecked],
    rules: {
      // Off on purpose: an Action's preview/verify/execute and a machine's methods implement
      // Promise-returning interfaces; `async` without an `await` still turns a throw into a
      // rejection, which the action runner's and the agent's catch handlers rely on.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { attributes: false } },
      ],
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  // The same preset on the tests and the bench, typed through tsconfig.test.json (tests) and
  // bench/tsconfig.json. node:test's test()/describe() return promises the runner awaits itself.
  {
    files: ['test/**/*.ts', 'test/**/*.tsx', 'scripts/**/*.ts'],
    languageOptions: {
      parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname },
    },
    extends: [...tseslint.configs.recommendedTypeChecked],
    rules: {
      '@typescript-eslint/require-await': 'off',
      // Tests read JSON documents (--json output, wire replies) field by field: that `any` is
      // what they check, and an assertion failing is the type check.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
    },
  },
  // Import directions, one block per layer: the same table as test/core/import-graph.test.ts
  // (MAY_IMPORT), so an editor flags an upward import as it is typed. Core also keeps UI and I/O
  // modules out; stores keep the outside world's clients out (it comes in through core/seams/).
  ...Object.entries(MAY_IMPORT).map(([layer, may]) => ({
    files: LAYER_FILES[layer] ?? [`source/${layer}/**/*.ts`, `source/${layer}/**/*.tsx`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...(layer === 'core' ? ioModules : layer === 'stores' ? storeBanned : []).map(
              (name) => ({
                name,
                message:
                  layer === 'core'
                    ? 'source/core is pure: no UI and no I/O.'
                    : 'stores take the outside world as ports (core/seams/), never its clients.',
              }),
            ),
            // Where nats may be imported at all: its connect() leaks the socket of an attempt
            // given up on a silent server (source/adapters/nats-connect.ts).
            ...(layer === 'core' || layer === 'stores'
              ? []
              : [
                  {
                    name: 'nats',
                    importNames: ['connect'],
                    message:
                      'use connectNats (adapters/nats-connect.ts): it closes given-up attempts.',
                  },
                ]),
          ],
          patterns: [
            {
              group: Object.keys(MAY_IMPORT)
                .filter((other) => other !== layer && !may.includes(other))
                .flatMap((other) => LAYER_PATTERNS[other] ?? [`**/${other}/**`]),
              message: `source/${layer} may import only ${may.length ? may.join(', ') : 'itself'} (docs/architecture.md, Layers).`,
            },
          ],
        },
      ],
    },
  })),
  {
    files: ['bin/**/*.js', 'scripts/**/*.mjs', 'eslint.config.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
