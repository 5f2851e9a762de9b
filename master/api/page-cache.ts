/**
 * Answers of collection reads kept until anything is written: a dashboard, the UI's pages and
 * scripts read the same few pages (`/builds?limit=50`, a builder's builds) over and over, and between
 * two writes each read would go to the database, join the same items and hash them again.
 *
 * Correct by construction rather than by invalidation: an answer is kept with the database's version
 * (Repositories.version: on SQLite, the rows this master's connection changed and the commits of any
 * other connection), read before and after the read that made it; it is kept only if the two are
 * equal, and served only while the version still is. No write path has to remember to clear it. A
 * page whose items depend on the time of the request (an unfinished build's Grafana link ends "now")
 * is never kept. Where the version is null (PostgreSQL, shared by several masters), nothing is kept.
 *
 * Bounded by entries and bytes; past either the least recently used answers are dropped. All of it
 * goes at once when the version moves.
 */
import type { JsonBody } from './collection-json.ts';

export interface PageCacheLimits {
  entries: number;
  bytes: number;
}

export const DEFAULT_PAGE_CACHE_LIMITS: PageCacheLimits = { entries: 256, bytes: 16 * 1024 * 1024 };

/** What a read holds between `begin` and `keep`: the version it started at (null: nothing will be kept). */
export interface PageRead {
  readonly version: string | null;
}

export class PageCache {
  private readonly pages = new Map<string, JsonBody>();
  private bytes = 0;
  /** The version the kept pages were read at. */
  private at: string | null = null;
  private hitCount = 0;

  constructor(
    private readonly version: () => string | null,
    private readonly limits: PageCacheLimits = DEFAULT_PAGE_CACHE_LIMITS,
  ) {}

  /** Pages served from the cache so far (for tests and diagnostics). */
  get hits(): number {
    return this.hitCount;
  }

  /** The page kept for `key`, if nothing was written since it was read; else undefined, and a read to make it. */
  lookup(key: string): { page: JsonBody } | { read: PageRead } {
    const version = this.version();
    if (version === null || version !== this.at) {
      this.clear();
      this.at = version;
      return { read: { version } };
    }
    const page = this.pages.get(key);
    if (page === undefined) return { read: { version } };
    // Most recently used last: the first in the map is dropped first.
    this.pages.delete(key);
    this.pages.set(key, page);
    this.hitCount++;
    return { page };
  }

  /** Keeps `page` for `key` if nothing was written since `read` began (see above). */
  keep(key: string, read: PageRead, page: JsonBody): void {
    if (read.version === null || page.body.length > this.limits.bytes) return;
    const now = this.version();
    if (now !== read.version) return;
    if (now !== this.at) {
      this.clear();
      this.at = now;
    }
    const old = this.pages.get(key);
    if (old) this.bytes -= old.body.length;
    this.pages.delete(key);
    this.pages.set(key, page);
    this.bytes += page.body.length;
    for (const [k, p] of this.pages) {
      if (this.pages.size <= this.limits.entries && this.bytes <= this.limits.bytes) break;
      this.pages.delete(k);
      this.bytes -= p.body.length;
    }
  }

  private clear(): void {
    this.pages.clear();
    this.bytes = 0;
  }
}
