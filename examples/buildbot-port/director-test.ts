/**
 * One ScummVM run over one movie, judged by what it prints: the original's ScummVMTest (a
 * WarningCountingShellCommand that also counts error lines) is Caliper's Lint step with a regex
 * parser. Lines about a Lingo syntax error or a `BUILDBOT:` check are errors (the step fails);
 * any other line with "warning" in it is a warning (the step ends WARNINGS).
 */
import { Lint, interpolate, regexParser } from 'caliper';
import { DEFAULT_ENV } from './build-factory.ts';
import { settings } from './settings.ts';

export const scummvmDiagnostics = regexParser({
  // The error alternatives fill `severity`; Buildbot's default warning pattern (".*warning[: ].*",
  // any case) leaves it empty, which makes a warning.
  pattern: /^(?:(?<severity>WARNING: #+ {2}LINGO: syntax error|WARNING: BUILDBOT:).*|.*warning[: ].*)$/i,
  errorSeverity: /./,
});

/**
 * A step name from a movie's path. Buildbot cut names to 50 characters; Caliper's may have 100, of
 * letters, digits, `_ . : -` and single spaces, and a Lint step's name starts its series names
 * (`<name>_warnings`), which begin with a letter or `_`. So `ASTERODS/ABOUT.MMM` becomes
 * `ASTERODS:ABOUT.MMM`.
 */
export function movieStepName(movie: string): string {
  const name = movie
    .replace(/\//g, ':')
    .replace(/[^A-Za-z0-9_.:-]+/g, '_')
    .slice(-100);
  return /^[A-Za-z_]/.test(name) ? name : `_${name.slice(-99)}`;
}

export interface MovieRun {
  movie: string;
  /** ScummVM's arguments after the binary. */
  args: string[];
  /** Relative to the builder's directory on the agent. */
  workdir: string;
  /** The binary, relative to `workdir`. */
  binary: string;
}

export function directorTest(run: MovieRun): Lint {
  return new Lint({
    name: movieStepName(run.movie),
    description: run.movie,
    descriptionDone: run.movie,
    // Lint reads stdout; ScummVM warns on stderr. `exec` keeps ScummVM the process that gets the signals.
    command: ['sh', '-c', 'exec "$@" 2>&1', 'scummvm', run.binary, ...run.args],
    env: { ...DEFAULT_ENV, BUILD_NUMBER: interpolate('%(prop:buildnumber)s') },
    workdir: run.workdir,
    timeout: settings.timeout,
    maxTime: settings.maxTime,
    format: scummvmDiagnostics,
  });
}
