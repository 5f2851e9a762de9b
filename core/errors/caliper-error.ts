/** Base of every error Caliper raises on purpose: a stable `code` and whether retrying can help. */
export abstract class CaliperError extends Error {
  abstract readonly code: string;
  readonly retryable: boolean = false;
  readonly details?: unknown;

  constructor(message: string, details?: unknown) {
    super(message);
    this.name = new.target.name;
    if (details !== undefined) this.details = details;
  }
}
