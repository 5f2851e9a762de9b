/**
 * `caliper try BUILDER [--config FILE] [--property k=v]... [--matrix AXIS=VALUE]... [--workdir DIR]`: runs one build of a
 * builder on this machine, without a master, a database or an agent (JobServ's simulator; docs/local-runs.md).
 * Exit code: 0 when the build succeeds (or only warns), 1 when it fails (failure, exception,
 * cancelled), 2 for a mistake on the command line; a config error exits 1 with its errors.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../../core/errors/index.ts';
import { errorMessage } from '../../core/error-message.ts';
import { Results, type Result } from '../../core/results.ts';
import { loadConfigFile } from '../config/loader.ts';
import { LocalBuild } from './local-build.ts';
import { TryOutput, processTerminal, type Terminal } from './try-output.ts';
import { cellLabel, cellsMatching, type MatrixCell } from '../config/matrix.ts';

export const TRY_HELP = `Usage: caliper try BUILDER [--config FILE] [--property NAME=VALUE]... [--matrix AXIS=VALUE]... [--workdir DIR]

Runs BUILDER's steps on this machine, without a master, database or agent, with the same step
rules (haltOnFailure, doStepIf, properties, measured values, lint counts), and prints each step's
output, the measured values and a summary. Exits 0 when the build succeeds (or only warns), 1 when
it fails.

  --config FILE           config module (default ./master.config.ts)
  --property NAME=VALUE   a build property, as a forced build's (repeatable)
  --workdir DIR           where commands run: DIR/<builder>/<step workdir> (default a new temporary directory, kept)
  --matrix AXIS=VALUE     which cell of a matrix builder to run (repeatable: the values must pick one cell)`;

/** A mistake on the command line: said with the usage, exit code 2. */
export class TryUsageError extends Error {}

export interface TryArgs {
  builder: string;
  config: string;
  properties: Record<string, string>;
  /** `--matrix` values: they must pick one cell of the builder's matrix. */
  matrix: Record<string, string>;
  workdir: string | null;
}

export function parseTryArgs(args: string[]): TryArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        config: { type: 'string' },
        property: { type: 'string', multiple: true },
        workdir: { type: 'string' },
        matrix: { type: 'string', multiple: true },
      },
    });
  } catch (e) {
    throw new TryUsageError(errorMessage(e));
  }
  const { values, positionals } = parsed;
  const [builder, ...extra] = positionals;
  if (builder === undefined) throw new TryUsageError('which builder? (caliper try BUILDER)');
  if (extra.length > 0) throw new TryUsageError(`one builder at a time: unexpected ${extra.map((e) => `"${e}"`).join(' ')}`);
  const properties: Record<string, string> = {};
  for (const p of values.property ?? []) {
    const eq = p.indexOf('=');
    const name = eq > 0 ? p.slice(0, eq) : '';
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) throw new TryUsageError(`--property ${p}: expected NAME=VALUE with NAME a property name`);
    properties[name] = p.slice(eq + 1);
  }
  const matrix: Record<string, string> = {};
  for (const m of values.matrix ?? []) {
    const eq = m.indexOf('=');
    const axis = eq > 0 ? m.slice(0, eq) : '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(axis)) throw new TryUsageError(`--matrix ${m}: expected AXIS=VALUE with AXIS an axis name`);
    if (axis in matrix) throw new TryUsageError(`--matrix ${m}: axis "${axis}" is given twice`);
    matrix[axis] = m.slice(eq + 1);
  }
  return { builder, config: values.config ?? 'master.config.ts', properties, matrix, workdir: values.workdir ?? null };
}

/** The cell `--matrix` picks: exactly one of the builder's; none for a builder without a matrix. */
export function pickCell(
  builder: { name: string; matrixCells: readonly MatrixCell[] | null },
  choice: Record<string, string>,
): MatrixCell | null {
  const given = Object.keys(choice).length > 0;
  const asText = `--matrix ${Object.entries(choice)
    .map(([k, v]) => `${k}=${v}`)
    .join(' --matrix ')}`;
  if (!builder.matrixCells) {
    if (given) throw new TryUsageError(`${asText}: builder "${builder.name}" has no matrix`);
    return null;
  }
  const list = (cells: readonly MatrixCell[]) => cells.map((c) => `  ${cellLabel(c)}`).join('\n');
  const matching = cellsMatching(builder.matrixCells, choice);
  if (matching.length === 1 && matching[0]) return matching[0];
  if (!given)
    throw new TryUsageError(
      `builder "${builder.name}" is a matrix: pick a cell with --matrix AXIS=VALUE; its cells:\n${list(builder.matrixCells)}`,
    );
  if (matching.length === 0)
    throw new TryUsageError(`${asText}: no cell of builder "${builder.name}" has these values; its cells:\n${list(builder.matrixCells)}`);
  throw new TryUsageError(`${asText}: ${matching.length} cells match, give more axes:\n${list(matching)}`);
}

/** Runs the build; the exit code the command ends with. */
export async function runTry(args: TryArgs, terminal: Terminal = processTerminal): Promise<number> {
  const file = path.resolve(args.config);
  const config = await loadConfigFile(file);
  const builder = config.builders.find((b) => b.name === args.builder);
  if (!builder)
    throw new TryUsageError(
      `no builder named "${args.builder}" in ${args.config} (builders: ${config.builders.map((b) => b.name).join(', ')})`,
    );
  const cell = pickCell(builder, args.matrix);
  const workdir = args.workdir ? path.resolve(args.workdir) : fs.mkdtempSync(path.join(os.tmpdir(), `caliper-try-${builder.dirname}-`));
  fs.mkdirSync(workdir, { recursive: true });
  const build = new LocalBuild({
    builder,
    secrets: config.secrets,
    properties: args.properties,
    matrix: cell,
    workdir,
    output: new TryOutput(terminal),
  });
  // Ctrl-C stops the build as the UI's stop button would (alwaysRun steps still run); twice: at once.
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    terminal.err('\ncaliper try: stopping (Ctrl-C again to quit at once)\n');
    build.stop();
  };
  process.on('SIGINT', onInterrupt);
  try {
    const { result } = await build.run();
    return exitCodeOf(result);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

export function exitCodeOf(result: Result): number {
  return result === Results.SUCCESS || result === Results.WARNINGS || result === Results.SKIPPED ? 0 : 1;
}

/** The `caliper try` command: parses, runs, and says what went wrong without a stack trace. */
export async function tryCommand(argv: string[]): Promise<number> {
  try {
    return await runTry(parseTryArgs(argv));
  } catch (e) {
    if (e instanceof TryUsageError) {
      console.error(`caliper try: ${e.message}\n\n${TRY_HELP}`);
      return 2;
    }
    if (e instanceof ConfigError) {
      console.error(e.message);
      return 1;
    }
    throw e;
  }
}
