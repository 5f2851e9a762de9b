// Guardrails from STYLE.md: no floating promises, type-only imports, no import cycles.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

export default tseslint.config(
  { ignores: ['node_modules/', 'tmp/', 'frontend/dist/', 'dist/', 'dist.*/', '.caliper/', 'agent-work/', 'coverage/'] },
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
              // caliper try runs a build without a master: config, the local process runner and the
              // secret masker, never the database, agents, schedulers or the web.
              target: './master/try',
              from: './master',
              except: [
                './try',
                './config',
                './build/master-process.ts',
                './build/secret-masker.ts',
                './build/step-runtime.ts',
                './agents/agent-connection.ts',
              ],
              message: 'master/try/ runs a build without a master: it uses the config, the local process runner and the masker only.',
            },
            {
              // The operator commands (caliper builds, build, force, agents, metrics) talk to a master
              // over its HTTP API only: the API's types from protocol/, nothing of the master's inside.
              target: './master/operator',
              from: ['./master', './steps', './metrics', './agent', './frontend'],
              except: ['./operator'],
              message: 'master/operator/ talks to the master over HTTP only: import protocol/ and core/, not master internals.',
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
