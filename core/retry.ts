/**
 * The one backoff and the one retry loop: every wait-and-try-again in Caliper (a database write
 * through an outage, metric batches waiting for their store, the masters' fan-out and the agent
 * reconnecting) takes its delays from here. What may be retried is the caller's decision, named at
 * each call (usually `isTransientError` from core/transient-error.ts): an unknown error never is.
 *
 * This file imports nothing: the agent process loads it, and stays small.
 */

export interface BackoffOptions {
  /** The first delay. */
  initialMs: number;
  /** No delay is longer. */
  maxMs: number;
  /** Growth per attempt; default 2. */
  factor?: number;
  /**
   * Share of the delay drawn at random, 0..1 (default 0.2): the delay is uniform in
   * [base × (1 − jitter), base], so many waiters that failed together do not come back together.
   */
  jitter?: number;
  /** Uniform in [0, 1); tests pass their own to make delays exact. */
  random?: () => number;
}

/** The delay before try `attempt + 1` (attempt 0: the delay after the first failure). */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const { initialMs, maxMs, factor = 2, jitter = 0.2, random = Math.random } = options;
  const grown = initialMs * factor ** attempt;
  // A long outage overflows the power (Infinity, or NaN for 0 × Infinity): that is the cap.
  const base = Number.isFinite(grown) ? Math.min(grown, maxMs) : maxMs;
  return Math.round(base * (1 - Math.min(Math.max(jitter, 0), 1) * random()));
}

/**
 * A backoff that counts its own attempts, for loops that wait on a timer rather than in `retry()`.
 * States: fresh (attempts 0) -> backing off (each `next()` one attempt more) -> fresh again on `reset()`.
 */
export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions) {}

  /** The next delay; each call is one attempt more. */
  next(): number {
    return backoffDelay(this.attempt++, this.options);
  }

  /** Delays handed out since the last success. */
  get attempts(): number {
    return this.attempt;
  }

  /** After a success: the next failure waits the first delay again. */
  reset(): void {
    this.attempt = 0;
  }
}

export interface RetryOptions {
  /** True when trying again can help; anything else is thrown at once. */
  isRetryable: (error: unknown) => boolean;
  /** Give up (throwing the last error) when the next try would start later than this after the first; default two minutes. */
  maxMs?: number;
  /** Default 100 ms doubling to 5 s: a restarting database is back within seconds. */
  backoff?: BackoffOptions;
  /** Called before each wait, with the failure and the try that failed (1 for the first). */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  /** Stops the waiting: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

export const DEFAULT_RETRY_BACKOFF: Readonly<BackoffOptions> = { initialMs: 100, maxMs: 5000, factor: 2, jitter: 0.2 };
export const DEFAULT_RETRY_MAX_MS = 120_000;

/** Runs `fn` until it succeeds, fails with an error that is not retryable, runs out of time, or is aborted. */
export async function retry<T>(fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const { isRetryable, maxMs = DEFAULT_RETRY_MAX_MS, backoff = DEFAULT_RETRY_BACKOFF, onRetry, signal } = options;
  const deadline = Date.now() + maxMs;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await fn();
    } catch (e) {
      if (!isRetryable(e)) throw e;
      const delayMs = backoffDelay(attempt - 1, backoff);
      if (Date.now() + delayMs > deadline) throw e;
      onRetry?.(e, attempt, delayMs);
      await sleep(delayMs, signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
