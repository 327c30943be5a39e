// Lint: typescript-eslint's recommended rules, plus the one architectural rule that matters most:
// only the process primitive (src/spawn.ts, which the interpreter is handed) may spawn processes.
import stylistic from '@stylistic/eslint-plugin'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'scratch/'] },
  ...tseslint.configs.recommended,
  // The formatter: layout rules that eslint --fix applies (npm run format), checked by npm run lint.
  // Not prettier: it would put each word of a backend's argv on its own line, and argv tables
  // are laid out by hand, one flag and its value to a line, for the reader.
  stylistic.configs.customize({ indent: 2, quotes: 'single', semi: false, commaDangle: 'always-multiline', braceStyle: '1tbs', arrowParens: true, jsx: false }),
  {
    rules: {
      '@stylistic/list-style': 'off',
      // Union members and curried arrows keep the layout they were written with.
      '@stylistic/indent': ['error', 2, { SwitchCase: 1, flatTernaryExpressions: true, ignoredNodes: ['TSUnionType *', 'ArrowFunctionExpression > ArrowFunctionExpression *', 'ArrowFunctionExpression > ArrowFunctionExpression'] }],
      '@stylistic/indent-binary-ops': 'off',
      '@stylistic/member-delimiter-style': ['error', { multiline: { delimiter: 'none' }, singleline: { delimiter: 'semi', requireLast: false } }],
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
      '@stylistic/max-statements-per-line': 'off',
      '@stylistic/operator-linebreak': 'off',
      '@stylistic/multiline-ternary': 'off',
      '@stylistic/quote-props': ['error', 'as-needed'],
    },
  },
  {
    files: ['src/**/*.ts'],
    // src/egress/proxy-main.ts is a program of its own (dist/egress-proxy.js, started by a plan
    // step through src/spawn.ts): detaching its server is the one process it starts.
    ignores: ['src/spawn.ts', 'src/egress/proxy-main.ts'],
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
