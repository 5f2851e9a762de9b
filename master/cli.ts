/**
 * The `caliper` command: start (a master, optionally with a local agent), check-config, agent,
 * hash-password.
 */
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CaliperError, ConfigError } from '../core/errors/index.ts';
import { errorMessage } from '../core/error-message.ts';
import type { CompiledConfig } from './config/compile.ts';

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

Run "caliper <command> --help" for a command's options.`,
  start: `Usage: caliper start [--config FILE] [--port N] [--host H] [--db URL] [--with-agent [NAME]]

  --config FILE        config module (default ./master.config.ts)
  --port N             HTTP port (default: web.port from the config, else 8010)
  --host H             address to listen on (default: web.host, else 127.0.0.1)
  --db URL             database: sqlite:PATH or postgres://... (default: db.url from the config)
  --with-agent [NAME]  also run the configured agent NAME (default: the first) beside the master`,
  'check-config': `Usage: caliper check-config [--config FILE]

Validates the config and prints every error with its path; exits 1 if there is any.`,
  agent: `Usage: caliper agent --master ws://HOST:PORT/agents --name NAME --token TOKEN [--workdir DIR] [--labels a,b]

  --master URL     the master's agent endpoint
  --name NAME      this agent's name, as in the master's config
  --token TOKEN    its token (or set CALIPER_AGENT_TOKEN, which keeps it out of the process list)
  --workdir DIR    base directory for builds (default ./agent-work/NAME)
  --labels a,b     extra labels this agent offers
  --capacity N     most commands run at once (default: 1000; the master also caps it with maxBuilds)`,
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
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(helpOf(command));
    return;
  }
  switch (command) {
    case 'check-config':
      return checkConfig(rest);
    case 'start':
      return start(rest);
    case 'agent':
      return runAgent(rest);
    case 'hash-password':
      return hashPasswordCommand(rest);
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
  let child: ChildProcess | null = null;
  const master = await startMaster(config, {
    basedir,
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
    const cli = fileURLToPath(new URL('../bin/caliper.js', import.meta.url));
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
}

async function runAgent(args: string[]): Promise<void> {
  const v = parse(
    args,
    {
      master: { type: 'string' },
      name: { type: 'string' },
      token: { type: 'string' },
      workdir: { type: 'string' },
      labels: { type: 'string' },
      capacity: { type: 'string' },
    },
    HELP.agent,
  );
  const token = v.token ?? process.env.CALIPER_AGENT_TOKEN;
  if (!v.master || !v.name || !token) fail(`--master, --name and --token (or CALIPER_AGENT_TOKEN) are required\n\n${HELP.agent}`);
  if (v.capacity !== undefined && !/^\d+$/.test(v.capacity)) fail(`--capacity must be a number, got "${v.capacity}"`);
  const { Agent } = await import('../agent/agent.ts');
  const agent = new Agent({
    master: v.master,
    name: v.name,
    token,
    basedir: path.resolve(v.workdir ?? path.join('agent-work', v.name)),
    labels: v.labels ? v.labels.split(',').filter(Boolean) : [],
    ...(v.capacity !== undefined ? { capacity: Number(v.capacity) } : {}),
  });
  const stop = () => {
    void agent.stop().finally(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    await agent.start();
  } catch (e) {
    console.error(errorMessage(e));
    process.exit(1);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  // Errors Caliper raises on purpose say what is wrong and what to do: no stack trace for them.
  console.error(e instanceof CaliperError ? `caliper: ${e.message}` : e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
