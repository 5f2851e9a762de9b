/**
 * The reporters' registry: each reporter's config schema (part of `services`, beside influxdb())
 * and the factory that makes it, by `type`. A new reporter adds its schema to `reporterSchema` and a
 * case to `createReporter`; the exhaustive switch fails to compile until it does both.
 */
import { z } from 'zod';
import type { Logger } from '../../core/logger.ts';
import type { Repositories } from '../db/repositories.ts';
import type { Reporter } from './reporter.ts';
import { createHttpReporter, httpReporterName, httpReporterSchema } from './http-reporter.ts';
import { createMailNotifier, mailNotifierName, mailNotifierSchema } from './mail-notifier.ts';
import { createGithubStatus, githubStatusName, githubStatusSchema } from './github-status.ts';

export const reporterSchema = z.discriminatedUnion('type', [httpReporterSchema, mailNotifierSchema, githubStatusSchema]);
export type ReporterConfig = z.output<typeof reporterSchema>;
const REPORTER_TYPES: ReadonlySet<string> = new Set(reporterSchema.options.map((o) => o.shape.type.value));

/** What reporters may need of the master. */
export interface ReporterDeps {
  repos: Repositories;
  /** config.title. */
  title: string;
  log: Logger;
}

export function isReporterConfig(service: { type: string }): service is ReporterConfig {
  return REPORTER_TYPES.has(service.type);
}

/** The configured reporters among `services` (the others are metrics services). */
export function createReporters(services: readonly { type: string }[], deps: ReporterDeps): Reporter[] {
  return services.filter(isReporterConfig).map((config) => createReporter(config, deps));
}

function createReporter(config: ReporterConfig, deps: ReporterDeps): Reporter {
  switch (config.type) {
    case 'httpReporter':
      return createHttpReporter(config);
    case 'mailNotifier':
      return createMailNotifier(config, { repos: deps.repos, title: deps.title });
    case 'githubStatus':
      return createGithubStatus(config, { log: deps.log });
    default: {
      const unknown: never = config;
      throw new Error(`no reporter of type ${JSON.stringify(unknown)}`);
    }
  }
}

/** The name a reporter's rows go under, known from its config alone (to refuse two alike at config time). */
export function reporterName(config: ReporterConfig): string {
  switch (config.type) {
    case 'httpReporter':
      return httpReporterName(config);
    case 'mailNotifier':
      return mailNotifierName(config);
    case 'githubStatus':
      return githubStatusName(config);
    default: {
      const unknown: never = config;
      throw new Error(`no reporter of type ${JSON.stringify(unknown)}`);
    }
  }
}
