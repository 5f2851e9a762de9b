/**
 * Retries a database write through a short outage (a restarting PostgreSQL): the writes that end a
 * step or a build must land, or the build would stay "running" until the next master start.
 */
export async function retryWrite<T>(
  write: () => Promise<T>,
  options: { what: string; onRetry?: (error: unknown, attempt: number) => void; maxMs?: number },
): Promise<T> {
  const deadline = Date.now() + (options.maxMs ?? 120_000);
  let delay = 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (e) {
      if (Date.now() + delay > deadline) throw e;
      options.onRetry?.(e, attempt);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}
