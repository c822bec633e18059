// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'test/fixtures/**', '.tmp/**', '.ci/cache/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Benchmarks, examples, scripts and the CLI print to the terminal on purpose.
    files: ['bench/**', 'bin/**', 'examples/**', 'test/**', 'src/**/cli*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    // The control plane's dashboard script runs in the browser (a classic script, served as /dashboard.js).
    files: ['src/control-plane/dashboard/*.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        AbortController: 'readonly',
        CSS: 'readonly',
        TextDecoderStream: 'readonly',
        confirm: 'readonly',
        document: 'readonly',
        fetch: 'readonly',
        sessionStorage: 'readonly',
        setInterval: 'readonly',
        setTimeout: 'readonly',
      },
    },
  },
);
