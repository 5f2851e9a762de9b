/**
 * The port's settings, read from the environment as the original read them (director/env.py and
 * master.py, with `environs`). Every secret comes from here, never from the config file.
 */

/** A variable as text, or its default. */
function text(key: string, fallback: string): string {
  const value = process.env[key];
  return value === undefined || value === '' ? fallback : value;
}

/** A yes/no variable (`true`, `1`, `yes` and `on` are yes), or its default. */
function flag(key: string, fallback: boolean): boolean {
  const value = process.env[key];
  if (value === undefined || value === '') return fallback;
  return ['true', '1', 'yes', 'on'].includes(value.toLowerCase());
}

/** A whole number, or its default; anything else stops the master with the variable's name. */
function integer(key: string, fallback: number): number {
  const value = process.env[key];
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n)) throw new Error(`environment variable ${key} must be a whole number, got "${value}"`);
  return n;
}

/** A comma-separated list, or its default. */
function list(key: string, fallback: string[]): string[] {
  const value = process.env[key];
  if (value === undefined || value === '') return fallback;
  return value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

export const settings = {
  /** The repository the build checks out; the GitHub hook's changes must carry the same string. */
  repository: text('REPOSITORY', 'https://github.com/scummvm/scummvm'),
  /** Agents allowed to connect, all with the one password (SCUMMVM_BUILDBOT_PASSWORD). */
  workerNames: list('WORKER_NAMES', ['director-worker']),
  workerPassword: text('SCUMMVM_BUILDBOT_PASSWORD', ''),
  maxBuilds: integer('MAX_BUILDS', 3),
  /** false: only the lingo tests, for a quicker build (as FULL_BUILD in the original). */
  fullBuild: flag('FULL_BUILD', true),
  /** Seconds without output, and of wall time, each movie may take. */
  timeout: integer('TIMEOUT', 20),
  maxTime: integer('MAX_TIME', 30),
  /** On the agent: the folder that holds each target's game files and targets.json's games. */
  targetsBaseDir: text('TARGETS_BASEDIR', `${process.env.HOME ?? ''}/wb1/`),
  /** targets.json: which games to test (default: the small example beside this file). */
  targetsFile: text('TARGETS_FILE', new URL('./targets.json', import.meta.url).pathname),
  /** On the agent: where ScummVM writes its screenshots, and the configuration auto-detected games start from. */
  screenshotDir: text('SCREENSHOT_DIR', `${process.env.HOME ?? ''}/screenshots`),
  initialConfig: text('INITIAL_CONFIG', '/storage/scummvm-default.ini'),
  databaseUrl: text('DATABASE_URL', 'sqlite:state.sqlite'),
  publicUrl: text('BUILDBOT_URL', 'http://localhost:5000/'),
  port: integer('WEB_PORT', 5000),
  /** The GitHub webhook (a push or pull request becomes a change); off: changes come from the API only. */
  webUi: flag('WEB_UI', true),
  githubWebhookSecret: text('GITHUB_WEBHOOK_SECRET', ''),
  /** Reports of finished builds to a web hook (the original posted to Discord). */
  webReporter: flag('WEB_REPORTER', false),
  reportUrl: text('REPORT_URL', ''),
  reportSecret: text('REPORT_SECRET', ''),
  /** Users who may force, stop and rebuild: "name:hash,name:hash" (hashes from `caliper hash-password`). */
  developers: list('DEVELOPERS', []),
  sessionSecret: text('SESSION_SECRET', ''),
};
