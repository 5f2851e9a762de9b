import { CaliperError } from './caliper-error.ts';

export interface ConfigIssue {
  /** Where, as written in the config: `builders[2].factory.steps[1].command`. */
  path: string;
  message: string;
}

/** The config is invalid; lists every problem found, not just the first. */
export class ConfigError extends CaliperError {
  readonly code = 'CONFIG_INVALID';

  constructor(
    readonly issues: ConfigIssue[],
    readonly file?: string,
  ) {
    super(
      `${file ?? 'config'}: ${issues.length} error${issues.length === 1 ? '' : 's'}\n${issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n')}`,
    );
  }
}
