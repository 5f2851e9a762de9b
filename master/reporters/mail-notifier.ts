/**
 * `mailNotifier(...)`: a mail per finished build that its modes select (Buildbot's MailNotifier; the
 * modes are in mail-modes.ts), sent through an SMTP relay with nodemailer. The mail carries the
 * result, the failed steps, the tail of the failing step's log, the metric regressions, the changes
 * and the build's link (mail-message.ts).
 *
 * Delivery is the outbox's: an SMTP answer of 4xx or a network error throws and is retried; a 5xx
 * (a recipient or sender the relay refuses, bad credentials) is a PermanentDeliveryError. Each mail's
 * Message-ID is made from the delivery id, so a mail sent again after a lost answer (at least once)
 * is recognised as the same message by mail clients that thread or deduplicate by it.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import { z } from 'zod';
import { Results, isResult, type Result } from '../../core/results.ts';
import { errorMessage } from '../../core/error-message.ts';
import { isRecord } from '../../core/is-record.ts';
import type { Repositories } from '../db/repositories.ts';
import { SecretMasker } from '../build/secret-masker.ts';
import { PermanentDeliveryError, type AuthorNotice, type BuildReport, type Delivery, type Reporter } from './reporter.ts';
import { mailModeOption, modesMatch, verdictByResult, type MailMode } from './mail-modes.ts';
import { DEFAULT_SUBJECT, composeMail, renderSubject, type LogTail } from './mail-message.ts';
import { regressionMail, regressionSubject } from './regression-text.ts';

/** An address as nodemailer takes it: `ci@example.com` or `CI <ci@example.com>`. */
const address = z
  .string()
  .min(3)
  .max(320)
  .regex(/^[^\r\n]*@[^\r\n]*$/, 'must be a mail address (with an @, on one line)');

export const mailNotifierSchema = z.strictObject({
  type: z.literal('mailNotifier'),
  /** Unique among the reporters, stable across restarts (names the outbox's rows). Default: `mail:` and the recipients. */
  name: z.string().min(1).max(100).optional(),
  smtp: z.strictObject({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65_535).default(587),
    /** TLS from the first byte (port 465). Otherwise STARTTLS is used when the relay offers it. */
    secure: z.boolean().default(false),
    auth: z.strictObject({ user: z.string().min(1), pass: z.string().min(4, 'must be at least 4 characters (masked)') }).optional(),
  }),
  from: address,
  to: z.union([address, z.array(address).min(1)]).transform((t) => (typeof t === 'string' ? [t] : t)),
  /** One of Buildbot's modes or a list of them (see mail-modes.ts); default failing, passing and warnings. */
  mode: mailModeOption,
  /** Only these builders' builds (default: every builder). */
  builders: z.array(z.string().min(1)).min(1).optional(),
  /** `%(title)s`, `%(result)s`, `%(builder)s`, `%(number)s`, `%(branch)s` are replaced. */
  subject: z.string().min(1).max(200).default(DEFAULT_SUBJECT),
  /** Send an HTML part beside the text (default true). */
  html: z.boolean().default(true),
  /** How many of the failing step's last log lines to include (0: none). */
  logLines: z.number().int().min(0).max(1000).default(40),
  /** Also one mail per build that revealed confirmed worse change points, listing every series (whatever `mode`). */
  regressions: z.boolean().default(false),
});

export type MailNotifierInput = z.input<typeof mailNotifierSchema>;
export type MailNotifierConfig = z.output<typeof mailNotifierSchema>;

/** The config helper, used in `services` like influxdb(). */
export function mailNotifier(options: Omit<MailNotifierInput, 'type'>): MailNotifierInput {
  return { type: 'mailNotifier', ...options };
}

export interface MailNotifierDeps {
  /** Builds, steps and logs: the previous build's result and the failing step's log are read here. */
  repos: Pick<Repositories, 'builds' | 'steps' | 'logs'>;
  /** The master's title (config.title), for the subject. */
  title?: string | undefined;
}

/** The reporter's name: the configured one, or `mail:` and the recipients. */
export function mailNotifierName(config: Pick<MailNotifierConfig, 'name' | 'to'>): string {
  return config.name ?? `mail:${config.to.join(',')}`;
}

/** The reporter factory: what the reporter registry calls with a parsed config. */
export function createMailNotifier(config: MailNotifierConfig, deps: MailNotifierDeps): Reporter {
  return new MailNotifier(config, deps);
}

/** Cut so one runaway line (minified output) cannot make a mail of megabytes. */
const MAX_LINE_CHARS = 500;
// Control characters but tab: terminal colours and carriage returns read as noise in a mail.
const CONTROL = /\u001b\[[0-9;?]*[A-Za-z]|[\u0000-\u0008\u000b-\u001f\u007f]/g;

export class MailNotifier implements Reporter {
  readonly name: string;
  readonly secrets: string[];
  private readonly modes: readonly MailMode[];
  private readonly transport: Transporter;
  private readonly masker: SecretMasker;

  constructor(
    private readonly config: MailNotifierConfig,
    private readonly deps: MailNotifierDeps,
  ) {
    this.name = mailNotifierName(config);
    this.secrets = config.smtp.auth ? [config.smtp.auth.pass] : [];
    this.masker = new SecretMasker(this.secrets);
    this.modes = config.mode;
    this.transport = nodemailer.createTransport({
      host: config.smtp.host,
      port: config.smtp.port,
      secure: config.smtp.secure,
      ...(config.smtp.auth ? { auth: { user: config.smtp.auth.user, pass: config.smtp.auth.pass } } : {}),
      // Bounded: a relay that accepts the connection and then hangs must not hold the outbox's worker.
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
  }

  wants(report: BuildReport): boolean {
    if (this.config.builders && !this.config.builders.includes(report.build.builder)) return false;
    if (report.event === 'build.regressed') return this.config.regressions;
    if (report.event !== 'build.finished' || report.build.results === null) return false;
    return verdictByResult(this.modes, report.build.results) !== 'no';
  }

  async deliver(delivery: Delivery): Promise<void> {
    const { report } = delivery;
    if (report.event === 'build.regressed') {
      const mail = regressionMail(report);
      return this.send(delivery, regressionSubject(report, this.deps.title ?? 'Caliper'), mail.text, mail.html);
    }
    const results = report.build.results;
    if (results === null) return;
    const previous = await this.previousBuild(report);
    // `problem` and `change` are decided here, not in wants(): they need the previous build's result.
    if (!modesMatch(this.modes, results, previous?.results ?? null)) return;
    const logTail = this.config.logLines > 0 ? await this.failingLogTail(report) : null;
    const title = this.deps.title ?? 'Caliper';
    const mail = composeMail({ report, previous, logTail }, renderSubject(this.config.subject, report, title));
    await this.send(delivery, mail.subject, mail.text, mail.html);
  }

  /** A mail to the commit's author alone (not the configured recipients), through the same relay. */
  async notifyAuthor(notice: AuthorNotice): Promise<void> {
    if (notice.email === null || !notice.email.includes('@')) return;
    await this.transport.sendMail({
      from: this.config.from,
      to: notice.email,
      subject: notice.subject,
      text: this.masker.maskText(notice.text),
    });
  }

  private async send(delivery: Delivery, subject: string, text: string, html: string): Promise<void> {
    const { report } = delivery;
    try {
      await this.transport.sendMail({
        from: this.config.from,
        to: this.config.to,
        subject: this.masker.maskText(subject),
        text: this.masker.maskText(text),
        ...(this.config.html ? { html: this.masker.maskText(html) } : {}),
        messageId: `<caliper-${delivery.id.replace(/[^A-Za-z0-9._-]/g, '_')}@${messageIdHost(report.build.url)}>`,
        headers: {
          'X-Caliper-Builder': report.build.builder,
          'X-Caliper-Build': String(report.build.number),
          'X-Caliper-Event': report.event,
        },
      });
    } catch (e) {
      throw deliveryError(e);
    }
  }

  /** The builder's latest finished build before this one. */
  private async previousBuild(report: BuildReport): Promise<{ number: number; results: Result } | null> {
    const { rows } = await this.deps.repos.builds.query(
      // results__ge: only finished builds (a running one's results are NULL and match no comparison).
      { buildid__lt: String(report.build.buildid), results__ge: '0', order: '-buildid', limit: '1' },
      { builderid: report.build.builderid },
    );
    const row = rows[0];
    return row && isResult(row.results) ? { number: row.number, results: row.results } : null;
  }

  /** The last lines of the first failed step's stdio (or first) log, masked. */
  private async failingLogTail(report: BuildReport): Promise<LogTail | null> {
    const failed = report.steps.find((s) => s.results === Results.FAILURE || s.results === Results.EXCEPTION);
    if (!failed) return null;
    const { repos } = this.deps;
    const step = await repos.steps.ofBuild(report.build.buildid, failed.number);
    if (!step) return null;
    const { rows: logs } = await repos.logs.query({ order: 'logid' }, { stepid: step.id });
    const log = logs.find((l) => l.slug === 'stdio') ?? logs[0];
    if (!log) return null;
    const { total } = await repos.logs.lines(log, Number.MAX_SAFE_INTEGER, 0);
    const wanted = this.config.logLines;
    const { lines } = await repos.logs.lines(log, Math.max(0, total - wanted), wanted);
    return {
      step: failed.name,
      log: log.name,
      total,
      lines: lines.map((l) => this.masker.maskText(l.toString('utf8').replace(CONTROL, ''), MAX_LINE_CHARS)),
    };
  }
}

/** The host part of the Message-ID: the master's own, from the build's link. */
function messageIdHost(url: string): string {
  try {
    return new URL(url).hostname || 'caliper.invalid';
  } catch {
    return 'caliper.invalid';
  }
}

/** SMTP 5xx is permanent (RFC 5321 §4.2.1); 4xx, timeouts and network errors are worth another try. */
function deliveryError(e: unknown): unknown {
  const code = isRecord(e) && typeof e.responseCode === 'number' ? e.responseCode : null;
  if (code !== null && code >= 500 && code < 600) return new PermanentDeliveryError(`the SMTP relay refused the mail: ${errorMessage(e)}`);
  return e;
}
