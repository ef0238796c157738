import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.spillway/', 'coverage/', '.stryker-tmp/', 'reports/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: 'TSEnumDeclaration', message: 'use an as-const object and a derived union type' },
      ],
    },
  },
  {
    files: ['src/autoscaler/**/*.ts', 'src/cost-model/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'take time from the injected Clock' },
      ],
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval'],
    },
  },
  {
    // The web console's pages run in the browser.
    files: ['src/console/web/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        [
          'fetch', 'location', 'document', 'addEventListener', 'removeEventListener', 'setTimeout', 'clearTimeout',
          'URL', 'URLSearchParams', 'Blob', 'structuredClone',
        ].map((name) => [name, 'readonly']),
      ),
    },
  },
);
