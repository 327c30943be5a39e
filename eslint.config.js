// Lint: typescript-eslint's recommended rules, plus the one architectural rule that matters most:
// only the process primitive (src/spawn.ts, which the interpreter is handed) may spawn processes.
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'scratch/'] },
  ...tseslint.configs.recommended,
  {
    files: ['src/**/*.ts'],
    ignores: ['src/spawn.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'execa', message: 'only src/spawn.ts spawns processes' },
            { name: 'node:child_process', message: 'only src/spawn.ts spawns processes' },
            { name: 'child_process', message: 'only src/spawn.ts spawns processes' },
          ],
        },
      ],
    },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
)
