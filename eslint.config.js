// Guardrails from STYLE.md: no floating promises, type-only imports, no import cycles.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

export default tseslint.config(
  { ignores: ['node_modules/', 'tmp/', 'frontend/dist/', '.caliper/', 'agent-work/', 'coverage/'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      // The rooms (docs/architecture.md): core/ and protocol/ are shared vocabulary and import no
      // layer; the agent shares only them with the master; steps/ and metrics/ reach master/ only
      // through its named seams (the event bus and the persistence types). CI refuses a break.
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: './core',
              from: ['./master', './steps', './metrics', './agent', './protocol', './frontend'],
              message: 'core/ is shared vocabulary: it imports no layer.',
            },
            {
              target: './protocol',
              from: ['./master', './steps', './metrics', './agent', './frontend'],
              message: 'protocol/ is shared by master, agent and frontend: it imports only core/.',
            },
            {
              target: './agent',
              from: ['./master', './steps', './metrics', './frontend'],
              message: 'The agent shares only protocol/ and core/ with the master.',
            },
            {
              target: './steps',
              from: ['./master', './agent', './frontend'],
              message: 'Steps see the build through StepContext (steps/step-context.ts), not master/ internals.',
            },
            {
              target: './metrics',
              from: ['./master', './agent', './frontend'],
              except: ['./events/event-bus.ts', './db/index.ts'],
              message:
                'metrics/ reaches master/ only through the event bus (master/events/event-bus.ts) and the persistence seam (master/db/index.ts).',
            },
            {
              target: './frontend',
              from: ['./master', './steps', './metrics', './agent'],
              message: 'The frontend shares only protocol/ (the API types) with the master.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // JSON bodies from the API under test are read loosely.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
);
