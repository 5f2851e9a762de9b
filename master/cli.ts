/**
 * The `caliper` command: start (a master, optionally with a local agent), check-config, agent,
 * hash-password, try (a builder's steps on this machine: master/try/).
 */
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { CaliperError, ConfigError } from '../core/errors/index.ts';
import { errorMessage } from '../core/error-message.ts';
import type { CompiledConfig } from './config/compile.ts';
import { tuneMasterGc } from './gc-tuning.ts';

// Each command imports only what it runs: an agent process must not carry the master (TypeORM,
// express, the metrics stores) — it is smaller, starts faster and forks its commands faster.
async function loadConfig(file: string): Promise<CompiledConfig> {
  const { loadConfigFile } = await import('./config/loader.ts');
  try {
    return await loadConfigFile(file);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(1);
    }
    throw e;
  }
}

const HELP = {
  main: `Usage: caliper <command> [options]

Commands:
  start          run a master (and optionally a local agent)
  check-config   validate a config file and print every error
  agent          run an agent that connects to a master
  hash-password  print a password hash for web.auth.users (reads the password from stdin)
  try            run a builder's steps on this machine, without a master (caliper try BUILDER)
  janitor        remove old logs, builds and changes now, by the config's retention (--dry-run)

Against a running master's API (--url, CALIPER_TOKEN; docs/cli.md):
  builds         the latest builds (--builder B, --limit N)
  build ID       a build and its steps (--log STEP: a step's log)
  force BUILDER  queue a build (--prop NAME=VALUE)
  agents         the agents and what they run
  metrics SERIES a series' summary with a sparkline (--builder B)
  reconfig       make a running master load its config file again (or send it SIGHUP)

Run "caliper <command> --help" for a command's options.`,
  start: `Usage: caliper start [--config FILE] [--port N] [--host H] [--db URL] [--with-agent [NAME]]

  --config FILE        config module (default ./master.config.ts)
  --port N             HTTP port (default: web.port from the config, else 8010)
  --host H             address to listen on (default: web.host, else 127.0.0.1)
  --db URL             database: sqlite:PATH or postgres://... (default: db.url from the config)
  --with-agent [NAME]  also run the configured agent NAME (default: the first) beside the master`,
  'check-config': `Usage: caliper check-config [--config FILE]

Validates the config and prints every error with its path; exits 1 if there is any.`,
  reconfig: `Usage: caliper reconfig [--url URL]

Asks the master at URL (default http://127.0.0.1:8010) to load its config file again: new builds run
under the new config, running builds finish under the old one. Prints what changed, or the errors
(the old config then stays in force) and exits 1. Sends CALIPER_TOKEN as a bearer token when set
(needed when the master has web.auth). Sending the master process SIGHUP does the same.`,
  'hash-password': `Usage: caliper hash-password < password.txt

Reads a password from stdin (its first line) and prints its scrypt hash for web.auth.users[].passwordHash.
The password never appears in the process list or shell history.`,
};
/** A command's help; the main help for a command that has none (only own keys: not `constructor`). */
const helpOf = (command: string): string => new Map<string, string>(Object.entries(HELP)).get(command) ?? HELP.main;

function fail(message: string): never {
  console.error(message);
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(HELP.main);
    return;
  }
  // The agent's own entry (help included): an agent process loads nothing of the master.
  if (command === 'agent') return (await import('../agent/main.ts')).agentCommand(rest);
  if (rest.includes('--help') || rest.includes('-h')) {
    if (command === 'try') return void console.log((await import('./try/try-command.ts')).TRY_HELP);
    if (command === 'janitor') return void console.log((await import('./retention/janitor-command.ts')).JANITOR_HELP);
    const operator = await import('./operator/operator-command.ts');
    if (operator.isOperatorCommand(command)) return void console.log(operator.OPERATOR_HELP[command]);
    console.log(helpOf(command));
    return;
  }
  switch (command) {
    case 'check-config':
      return checkConfig(rest);
    case 'start':
      return start(rest);
    case 'hash-password':
      return hashPasswordCommand(rest);
    case 'reconfig':
      return reconfigCommand(rest);
    case 'try': {
      const { tryCommand } = await import('./try/try-command.ts');
      process.exitCode = await tryCommand(rest);
      return;
    }
    case 'janitor':
      return janitorCommand(rest);
    case 'builds':
    case 'build':
    case 'force':
    case 'agents':
    case 'metrics': {
      // Talks to the master over HTTP only (master/operator/): loads nothing of the master itself.
      const { runOperatorCommand, OperatorError } = await import('./operator/operator-command.ts');
      try {
        const out = await runOperatorCommand(command, rest);
        if (out !== '') console.log(out);
      } catch (e) {
        if (!(e instanceof OperatorError)) throw e;
        console.error(`caliper ${command}: ${e.message}`);
        process.exitCode = 1;
      }
      return;
    }
    default:
      fail(`unknown command "${command}"\n\n${HELP.main}`);
  }
}

function parse<T extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], options: T, usage: string) {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values;
  } catch (e) {
    return fail(`${errorMessage(e)}\n\n${usage}`);
  }
}

/** Things the config allows but that are probably not meant (an empty builderNames): said, not refused. */
function printWarnings(file: string, warnings: readonly { path: string; message: string }[]): void {
  for (const w of warnings) console.error(`${file}: warning: ${w.path}: ${w.message}`);
}

async function checkConfig(args: string[]): Promise<void> {
  const v = parse(args, { config: { type: 'string' } }, HELP['check-config']);
  const file = v.config ?? 'master.config.ts';
  const config = await loadConfig(file);
  printWarnings(file, config.warnings);
  console.log(`${file}: OK (${config.builders.length} builders, ${config.agents.length} agents, ${config.schedulers.length} schedulers)`);
}

async function janitorCommand(args: string[]): Promise<void> {
  const { parseJanitorArgs, runJanitorCommand, JanitorUsageError } = await import('./retention/janitor-command.ts');
  let parsed;
  try {
    parsed = parseJanitorArgs(args);
  } catch (e) {
    if (e instanceof JanitorUsageError) fail(e.message);
    throw e;
  }
  const file = path.resolve(parsed.config);
  const config = await loadConfig(file);
  process.exitCode = await runJanitorCommand({ ...parsed, config: file }, config);
}

async function hashPasswordCommand(args: string[]): Promise<void> {
  parse(args, {}, HELP['hash-password']);
  const { hashPassword } = await import('./auth/password-hash.ts');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk));
  const password = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (password === '') fail(`no password on stdin\n\n${HELP['hash-password']}`);
  console.log(await hashPassword(password));
}

async function start(args: string[]): Promise<void> {
  // First, before the master's modules load and allocate: no marking cycle has started yet.
  tuneMasterGc();
  // --with-agent takes an optional value, which parseArgs cannot express.
  let withAgent: string | true | null = null;
  const i = args.indexOf('--with-agent');
  if (i !== -1) {
    const next = args[i + 1];
    withAgent = next && !next.startsWith('--') ? next : true;
    args = [...args.slice(0, i), ...args.slice(i + (withAgent === true ? 1 : 2))];
  }
  const v = parse(
    args,
    { config: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, db: { type: 'string' } },
    HELP.start,
  );
  const file = path.resolve(v.config ?? 'master.config.ts');
  const config = await loadConfig(file);
  printWarnings(file, config.warnings);
  if (v.port !== undefined && !/^\d{1,5}$/.test(v.port)) fail(`--port must be a number, got "${v.port}"`);
  const basedir = path.dirname(file);
  const { startMaster } = await import('./master.ts');
  const { loadConfigFile } = await import('./config/loader.ts');
  let child: ChildProcess | null = null;
  const master = await startMaster(config, {
    basedir,
    reloadConfig: () => loadConfigFile(file),
    // The master cannot keep what it does any more: it stops at once, loudly (it logged why).
    onDatabaseLost: () => {
      child?.kill('SIGTERM');
      process.exit(1);
    },
    ...(v.port !== undefined ? { port: Number(v.port) } : {}),
    ...(v.host !== undefined ? { host: v.host } : {}),
    ...(v.db !== undefined ? { dbUrl: v.db } : {}),
  });

  if (withAgent !== null) {
    const agentConfig = withAgent === true ? config.agents[0] : config.agents.find((a) => a.name === withAgent);
    if (!agentConfig) {
      await master.stop();
      fail(withAgent === true ? '--with-agent: the config defines no agents' : `--with-agent: no agent named "${withAgent}" in the config`);
    }
    // The agent runs as the program this master runs as: bin/caliper.js, or in a checkout the
    // source entry (bin/caliper-dev.js), so both run the same code.
    const cli = process.argv[1] ?? fail('--with-agent: cannot tell which program this master runs as');
    const agentArgs = [
      'agent',
      '--master',
      `ws://127.0.0.1:${master.port}/agents`,
      '--name',
      agentConfig.name,
      '--workdir',
      path.join(basedir, '.caliper', 'agents', agentConfig.name),
    ];
    if (agentConfig.labels.length > 0) agentArgs.push('--labels', agentConfig.labels.join(','));
    child = spawn(process.execPath, [cli, ...agentArgs], {
      stdio: 'inherit',
      env: { ...process.env, CALIPER_AGENT_TOKEN: agentConfig.token },
    });
  }
  console.log(`Caliper master "${config.title}" at ${master.url} (API: ${master.url}/api/v2)`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: shutting down`);
    // The master first: its running builds may finish on the local agent before it goes.
    await master.stop();
    child?.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // As Buildbot's and dsari's masters: SIGHUP reloads the config (the master logs what changed).
  process.on('SIGHUP', () => {
    console.log(`SIGHUP: loading ${file} again`);
    master.reconfig().then(
      (result) => printWarnings(file, result.warnings),
      (e: unknown) => console.error(`reconfig refused: ${errorMessage(e)}`),
    );
  });
}

async function reconfigCommand(args: string[]): Promise<void> {
  const v = parse(args, { url: { type: 'string' } }, HELP.reconfig);
  const base = (v.url ?? 'http://127.0.0.1:8010').replace(/\/+$/, '');
  const token = process.env.CALIPER_TOKEN;
  let res: Response;
  try {
    res = await fetch(`${base}/api/v2/control/reconfig`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
  } catch (e) {
    console.error(`caliper reconfig: cannot reach the master at ${base}: ${errorMessage(e)}`);
    process.exit(1);
  }
  const body: unknown = await res.json().catch(() => null);
  const answer = (body ?? {}) as {
    reconfig?: Record<string, { added: string[]; removed: string[]; changed: string[] }>;
    error?: { message?: string };
  };
  if (!res.ok || !answer.reconfig) {
    console.error(`caliper reconfig: ${answer.error?.message ?? `the master answered ${res.status}`}`);
    process.exit(1);
  }
  const said: string[] = [];
  for (const part of ['builders', 'agents', 'schedulers']) {
    const c = answer.reconfig[part];
    if (!c) continue;
    for (const kind of ['added', 'removed', 'changed'] as const)
      if (c[kind].length > 0) said.push(`${part} ${kind}: ${c[kind].join(', ')}`);
  }
  console.log(said.length > 0 ? `reconfig applied\n  ${said.join('\n  ')}` : 'reconfig applied: nothing changed');
}

main(process.argv.slice(2)).catch((e: unknown) => {
  // Errors Caliper raises on purpose say what is wrong and what to do: no stack trace for them.
  console.error(e instanceof CaliperError ? `caliper: ${e.message}` : e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
