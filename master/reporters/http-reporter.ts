/**
 * `httpReporter(...)`: a JSON POST per build started and finished (and per step finished with
 * `steps: true`) to a URL, signed like GitHub signs its webhooks. The body is the BuildReport (its
 * `event` says which); the headers:
 *   X-Caliper-Event: build.started | step.finished | build.finished | build.regressed (`regressions: true`)
 *   X-Caliper-Delivery: the delivery's id, the same on every try (a receiver deduplicates by it)
 *   X-Caliper-Signature-256: sha256=<hex HMAC-SHA256 of the body with `secret`> (with a secret)
 * A 2xx answer is delivered; a 4xx other than 408 and 429 is permanent (retrying cannot change it);
 * anything else, a timeout and a network error are tried again by the outbox.
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { resultName } from '../../core/results.ts';
import { errorMessage } from '../../core/error-message.ts';
import { PermanentDeliveryError, type BuildReport, type Delivery, type Reporter } from './reporter.ts';
import { RESULT_NAMES } from '../../protocol/api-types.ts';

export const httpReporterSchema = z.strictObject({
  type: z.literal('httpReporter'),
  /** Unique among the reporters, stable across restarts (names the outbox's rows). Default: `http:` and the URL without its query. */
  name: z.string().min(1).max(100).optional(),
  url: z.url({ protocol: /^https?$/ }),
  /** Only these builders' builds (default: every builder). */
  builders: z.array(z.string().min(1)).min(1).optional(),
  /** Only finished builds that ended so (default: any result); `build.started` and step events are not filtered by it. */
  results: z.array(z.enum(RESULT_NAMES)).min(1).optional(),
  /** Signs each body (X-Caliper-Signature-256); masked like other secrets. Read it from the environment. */
  secret: z.string().min(16, 'must be at least 16 characters (read it from the environment)').optional(),
  /** Also a POST per step finished. */
  steps: z.boolean().default(false),
  /** Also a POST (`build.regressed`) per build that revealed confirmed worse change points, listing them all. */
  regressions: z.boolean().default(false),
  /** A try that has no answer by then is abandoned and tried again. */
  timeoutMs: z.number().int().min(100).max(120_000).default(30_000),
});

export type HttpReporterInput = z.input<typeof httpReporterSchema>;
export type HttpReporterConfig = z.output<typeof httpReporterSchema>;

/** The config helper, used in `services` like influxdb(). */
export function httpReporter(options: Omit<HttpReporterInput, 'type'>): HttpReporterInput {
  return { type: 'httpReporter', ...options };
}

/** The reporter factory: what the reporter registry calls with a parsed config. */
export function createHttpReporter(config: HttpReporterConfig): Reporter {
  return new HttpReporter(config);
}

/** `sha256=<hex>`: the value of X-Caliper-Signature-256 for `body`. */
export function signatureOf(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function httpReporterName(config: Pick<HttpReporterConfig, 'name' | 'url'>): string {
  if (config.name !== undefined) return config.name;
  const url = new URL(config.url);
  // No query, no credentials: a token there must not end up in the outbox's rows and logs.
  return `http:${url.origin}${url.pathname}`;
}

export class HttpReporter implements Reporter {
  readonly name: string;
  readonly secrets: string[];

  constructor(private readonly config: HttpReporterConfig) {
    this.name = httpReporterName(config);
    const url = new URL(config.url);
    this.secrets = [
      ...(config.secret ? [config.secret] : []),
      ...(url.password ? [decodeURIComponent(url.password)] : []),
      ...[...url.searchParams.values()].filter((v) => v.length >= 8),
    ];
  }

  wants(report: BuildReport): boolean {
    if (this.config.builders && !this.config.builders.includes(report.build.builder)) return false;
    switch (report.event) {
      case 'build.started':
        return true;
      case 'step.finished':
        return this.config.steps;
      case 'build.regressed':
        return this.config.regressions;
      case 'build.finished': {
        const result = resultName(report.build.results);
        return !this.config.results || (result !== null && this.config.results.includes(result));
      }
      default: {
        const unknown: never = report.event;
        throw new Error(`unknown report event ${String(unknown)}`);
      }
    }
  }

  async deliver(delivery: Delivery): Promise<void> {
    const body = JSON.stringify(delivery.report);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'Caliper-Hookshot',
      'x-caliper-event': delivery.report.event,
      'x-caliper-delivery': delivery.id,
    };
    if (this.config.secret) headers['x-caliper-signature-256'] = signatureOf(body, this.config.secret);
    let response: Response;
    try {
      response = await fetch(this.config.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(this.config.timeoutMs) });
    } catch (e) {
      // fetch says "fetch failed"; what failed (ECONNREFUSED, a timeout) is its cause.
      const cause = e instanceof Error && e.cause !== undefined ? `: ${errorMessage(e.cause)}` : '';
      throw new Error(`POST to ${this.name} failed: ${errorMessage(e)}${cause}`);
    }
    // Read the answer to its end so the connection can be reused; its text only matters in an error.
    const text = await response.text().catch(() => '');
    if (response.ok) return;
    const message = `${this.name} answered ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
    if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429)
      throw new PermanentDeliveryError(message);
    throw new Error(message);
  }
}
