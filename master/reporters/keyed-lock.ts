/**
 * One task at a time per key: the GitHub reporters read what GitHub holds, then write, and two
 * deliveries for the same commit or pull request must not both read before either writes.
 */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    const mine = before.then(task, task);
    const tail = mine.catch(() => {});
    this.tails.set(key, tail);
    try {
      return await mine;
    } finally {
      // Forget the key once nothing queued behind this task, so the map does not grow per commit.
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
