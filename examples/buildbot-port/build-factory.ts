/**
 * The `build` builder (the original's director/build_factory.py): check ScummVM out, configure it
 * once per agent directory, compile only the Director engine with AddressSanitizer, hand the binary
 * to the master, then trigger the test builders and wait for them.
 */
import { BuildFactory, FileUpload, Git, Lint, SetPropertyFromCommand, ShellCommand, Trigger, regexParser, renderer } from 'caliper';
import { settings } from './settings.ts';

/** The binary's name on the agent (in the build directory) and on the master. */
export const WORKER_BINARY = 'scummvm';
export const MASTER_BINARY = 'scummvm-binary';

/** The triggerable scheduler of the test builders (Buildbot's name was "Director Tests"). */
export const DIRECTOR_TESTS = 'director-tests';

/** What every ScummVM run gets: no window, no sound, and AddressSanitizer that stops at the first error. */
export const DEFAULT_ENV: Record<string, string> = {
  SDL_VIDEODRIVER: 'dummy',
  SDL_AUDIODRIVER: 'dummy',
  ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=1:disable_coredump=0:unmap_shadow_on_exit=1',
};

/**
 * gcc's and clang's diagnostics (`file:line:col: warning: …`), as Buildbot's Compile step counts
 * them; an `error:` line is an error.
 */
export const compilerDiagnostics = regexParser({
  pattern: /^(?<file>[^\s:][^:]*):(?<line>\d+):(?:\d+:)? (?<severity>warning|error|fatal error): (?<message>.*)$/,
  errorSeverity: /error/,
});

/** The checkout every builder with the source starts with (Buildbot's GitHub step is its Git step). */
export const checkout = (): Git => new Git({ repourl: settings.repository, mode: 'incremental' });

/** `make -j N+1`, N being what the agent's `nproc` said (Buildbot's @util.renderer makeCommand). */
const makeCommand = renderer((props) => {
  const cpus = Number(props.get('nproc')) + 1;
  // Lint reads stdout: the compiler's diagnostics go to stderr.
  return `make -j ${Number.isFinite(cpus) && cpus > 1 ? cpus : 2} 2>&1`;
});

export function buildFactory(): BuildFactory {
  const factory = new BuildFactory()
    .addStep(checkout())
    .addStep(new SetPropertyFromCommand({ name: 'nproc', description: 'Finding the number of CPUs', command: 'nproc', property: 'nproc' }))
    .addStep(
      // config.mk is written by configure: its presence means configure has run in this directory.
      new SetPropertyFromCommand({
        name: 'configure-needed',
        description: 'Find if configure has run before',
        command: '[ -f config.mk ] && ls -1 config.mk || exit 0',
        property: 'configure_has_ran',
      }),
    )
    .addStep(
      new ShellCommand({
        name: 'configure',
        command: [
          './configure',
          '--disable-detection-full',
          '--disable-all-engines',
          '--enable-engine=director',
          '--enable-asan',
          '--enable-lld',
        ],
        env: { CXX: 'ccache g++' },
        doStepIf: (props) => !props.get('configure_has_ran'),
        haltOnFailure: true,
      }),
    )
    .addStep(new Lint({ name: 'compile', command: makeCommand, format: compilerDiagnostics, haltOnFailure: true }));
  factory.addStep(new FileUpload({ name: 'upload', workersrc: WORKER_BINARY, masterdest: MASTER_BINARY, artifact: true }));
  return factory.addStep(new Trigger({ schedulerNames: [DIRECTOR_TESTS], waitForFinish: true }));
}
