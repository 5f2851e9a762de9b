/**
 * The operator commands (as dsari-info): `caliper builds | build | force | agents | metrics`, run
 * against a running master's API. Tables by default, `--json` for scripts; `--url` names the master
 * (default http://127.0.0.1:8010) and CALIPER_TOKEN carries a token of its web.auth.tokens.
 */
import { parseArgs } from 'node:util';
import { ApiClient, DEFAULT_URL, OperatorError, TOKEN_ENV } from './api-client.ts';
import { agentsCommand } from './agents-command.ts';
import { buildCommand, findStepLog } from './build-command.ts';
import { buildsCommand } from './builds-command.ts';
import { forceCommand, parseProps } from './force-command.ts';
import { metricsCommand } from './metrics-command.ts';

export { OperatorError } from './api-client.ts';

export const OPERATOR_COMMANDS = ['builds', 'build', 'force', 'agents', 'metrics'] as const;
export type OperatorCommandName = (typeof OPERATOR_COMMANDS)[number];

export const isOperatorCommand = (c: string): c is OperatorCommandName => (OPERATOR_COMMANDS as readonly string[]).includes(c);

const COMMON = `  --url URL   the master (default ${DEFAULT_URL}); ${TOKEN_ENV} in the environment: its API token
  --json      print JSON instead of a table`;

export const OPERATOR_HELP: Record<OperatorCommandName, string> = {
  builds: `Usage: caliper builds [--builder B] [--limit N] [--url URL] [--json]

The latest builds, newest first.
  --builder B  only builder B's
  --limit N    how many (default 20)
${COMMON}`,
  build: `Usage: caliper build ID [--log STEP] [--url URL] [--json]

A build and its steps; with --log, the log of step STEP (its name, or its number from 0) exactly as
the command wrote it.
${COMMON}`,
  force: `Usage: caliper force BUILDER [--prop NAME=VALUE]... [--reason TEXT] [--url URL] [--json]

Queues a build of BUILDER (as the force button); prints the build request's id.
  --prop NAME=VALUE  a build property (a string); repeat for more
  --reason TEXT      why (default "forced")
${COMMON}`,
  agents: `Usage: caliper agents [--url URL] [--json]

The configured agents: connected or not, builds running of their maximum, labels, OS and version.
${COMMON}`,
  metrics: `Usage: caliper metrics SERIES [--builder B] [--points N] [--url URL] [--json]

A metric series' summary (count, average, deviation, min, max, p50, p95) and a sparkline of its
latest points.
  --builder B  only builder B's points
  --points N   how many points the sparkline shows (default 40)
${COMMON}`,
};

const OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  builder: { type: 'string' },
  limit: { type: 'string' },
  log: { type: 'string' },
  prop: { type: 'string', multiple: true },
  reason: { type: 'string' },
  points: { type: 'string' },
} as const;

/** Which options each command takes besides --url and --json. */
const ALLOWED: Record<OperatorCommandName, readonly (keyof typeof OPTIONS)[]> = {
  builds: ['builder', 'limit'],
  build: ['log'],
  force: ['prop', 'reason'],
  agents: [],
  metrics: ['builder', 'points'],
};
const POSITIONALS: Record<OperatorCommandName, string[]> = {
  builds: [],
  build: ['ID'],
  force: ['BUILDER'],
  agents: [],
  metrics: ['SERIES'],
};

function count(text: string | undefined, what: string, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max)
    throw new OperatorError(`${what} must be a whole number from 1 to ${max}, got "${text}"`);
  return Number(text);
}

/** Runs one operator command; what to print on stdout (a raw log is streamed and gives ''). */
export async function runOperatorCommand(command: OperatorCommandName, args: string[], env = process.env): Promise<string> {
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new OperatorError(`${e instanceof Error ? e.message : String(e)}\n\n${OPERATOR_HELP[command]}`);
  }
  const { values, positionals } = parsed;
  for (const key of Object.keys(values) as (keyof typeof OPTIONS)[])
    if (key !== 'url' && key !== 'json' && !ALLOWED[command].includes(key))
      throw new OperatorError(`caliper ${command} takes no --${key}\n\n${OPERATOR_HELP[command]}`);
  const wanted = POSITIONALS[command];
  if (positionals.length !== wanted.length)
    throw new OperatorError(
      `caliper ${command} takes ${wanted.length === 0 ? 'no arguments' : wanted.join(' ')}, got ${positionals.length === 0 ? 'none' : `"${positionals.join(' ')}"`}\n\n${OPERATOR_HELP[command]}`,
    );
  const api = new ApiClient(values.url ?? DEFAULT_URL, env[TOKEN_ENV] || undefined);
  const json = values.json ?? false;
  const [arg = ''] = positionals;
  switch (command) {
    case 'builds':
      return buildsCommand(api, {
        ...(values.builder !== undefined ? { builder: values.builder } : {}),
        limit: count(values.limit, '--limit', 20, 1000),
        json,
      });
    case 'build': {
      if (!/^\d+$/.test(arg)) throw new OperatorError(`build ID must be a build's number id (caliper builds lists them), got "${arg}"`);
      if (values.log === undefined) return buildCommand(api, Number(arg), { json });
      const { log } = await findStepLog(api, Number(arg), values.log);
      const body = await api.stream(`/logs/${log.logid}/raw`);
      const reader = body.getReader();
      for (let part = await reader.read(); !part.done; part = await reader.read())
        if (!process.stdout.write(part.value)) await new Promise((r) => process.stdout.once('drain', r));
      return '';
    }
    case 'force':
      return forceCommand(api, arg, {
        props: parseProps(values.prop ?? []),
        ...(values.reason !== undefined ? { reason: values.reason } : {}),
        json,
      });
    case 'agents':
      return agentsCommand(api, { json });
    case 'metrics':
      return metricsCommand(api, arg, {
        ...(values.builder !== undefined ? { builder: values.builder } : {}),
        points: count(values.points, '--points', 40, 10_000),
        json,
      });
    default: {
      const never: never = command;
      throw new OperatorError(`unknown command ${String(never)}`);
    }
  }
}
