/** The public API of Caliper: what a master.config.ts (or a custom step) imports from 'caliper'. */
export { defineConfig } from './master/config/define-config.ts';
export type { ConfigInput as CaliperConfig } from './master/config/schema.ts';
export {
  forceScheduler,
  periodicScheduler,
  singleBranchScheduler,
  anyBranchScheduler,
  cronScheduler,
  triggerableScheduler,
  dependentScheduler,
  nightlyTriggerableScheduler,
} from './master/config/schedulers.ts';
export { gitPoller, type GitPollerConfig } from './master/changes/change-source-config.ts';
export { masterLock, agentLock, type LockConfig, type LockAccess } from './master/config/locks.ts';
export type { ChangeInput } from './master/changes/change.ts';
export type { AgentChoice, PendingBuilder, QueueBuilder, QueuedRequest } from './master/scheduler/queue-hooks.ts';
export { BuildFactory } from './steps/build-factory.ts';
export { Step, commonStepShape, type CommonStepOptions, type StepOutcome } from './steps/step.ts';
export type {
  StepContext,
  CommandRequest,
  CommandResult,
  LogHandle,
  TriggeredRequest,
  UploadRequest,
  DownloadRequest,
  TransferResult,
} from './steps/step-context.ts';
export { ShellCommand, type ShellCommandOptions } from './steps/shell-command.ts';
export { SetPropertyFromCommand, type SetPropertyFromCommandOptions } from './steps/set-property-from-command.ts';
export { SetProperty, type SetPropertyOptions } from './steps/set-property.ts';
export { SetProperties, type SetPropertiesOptions } from './steps/set-properties.ts';
export { MasterShellCommand, type MasterShellCommandOptions } from './steps/master-shell-command.ts';
export { Git, type GitOptions } from './steps/git.ts';
export { Trigger, type TriggerOptions } from './steps/trigger.ts';
export { FileUpload, type FileUploadOptions } from './steps/file-transfer/file-upload.ts';
export { DirectoryUpload, type DirectoryUploadOptions } from './steps/file-transfer/directory-upload.ts';
export { FileDownload, type FileDownloadOptions } from './steps/file-transfer/file-download.ts';
export {
  StringDownload,
  JSONStringDownload,
  JSONPropertiesDownload,
  type StringDownloadOptions,
  type JSONStringDownloadOptions,
  type JSONPropertiesDownloadOptions,
} from './steps/file-transfer/string-download.ts';
export { removeBuildArtifacts } from './master/build/file-transfer-artifacts.ts';
export { interpolate, Interpolate, type Renderable, type PropertyReader, type WorkerInfo } from './steps/properties/interpolate.ts';
export { renderer, transform } from './steps/properties/renderers.ts';
export { Results, resultName, worstResult, type Result } from './core/results.ts';
export { startMaster, type MasterOptions, type RunningMaster } from './master/master.ts';
export { tuneMasterGc } from './master/gc-tuning.ts';
export { compileConfig } from './master/config/compile.ts';
export { loadConfigFile } from './master/config/loader.ts';
export { yamlProjects, type YamlProjects, type YamlProjectOptions } from './master/config/yaml-projects.ts';
export { Agent, type AgentOptions } from './agent/agent.ts';
export { MeasureShellCommand, type MeasureShellCommandOptions } from './steps/measure-shell-command.ts';
export { Lint, type LintOptions } from './steps/lint.ts';
export { regexParser } from './steps/parsers/regex.ts';
export type { LintParser, LintIssue } from './steps/parsers/lint-parser.ts';
export { influxdb, grafana, prometheus, trackStepTimes, trackProperties, trackCustomStep } from './metrics/config.ts';
export { httpReporter, type HttpReporterInput } from './master/reporters/http-reporter.ts';
export { mailNotifier, type MailNotifierInput } from './master/reporters/mail-notifier.ts';
export { githubStatus, type GithubStatusInput } from './master/reporters/github-status.ts';
export { PermanentDeliveryError, type Reporter, type BuildReport, type Delivery, type MetricDelta } from './master/reporters/reporter.ts';
export { MetricsService } from './metrics/metrics-service.ts';
export type { CaptureOptions } from './metrics/capture-options.ts';
export type { SeriesFilter } from './metrics/series-filter.ts';
export type { Summary } from './metrics/summary.ts';
