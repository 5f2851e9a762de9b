/** PageCache (master/api/page-cache.ts): kept only when nothing was written during the read, served while nothing is. */
import { describe, expect, it } from 'vitest';
import { PageCache } from '../../master/api/page-cache.ts';
import type { JsonBody } from '../../master/api/collection-json.ts';

const body = (text: string): JsonBody => ({ body: Buffer.from(text), etag: `W/"${text}"` });

/** A cache over a version the test moves by hand. */
function cacheAt(start: string | null, limits?: { entries: number; bytes: number }) {
  const db = { version: start };
  return { db, cache: new PageCache(() => db.version, limits) };
}

/** Reads `key`: the kept page, or `make()` kept as a read would keep it. */
function read(
  cache: PageCache,
  key: string,
  make: () => JsonBody,
  during: () => void = () => {},
): { from: 'cache' | 'read'; page: JsonBody } {
  const found = cache.lookup(key);
  if ('page' in found) return { from: 'cache', page: found.page };
  during();
  const page = make();
  cache.keep(key, found.read, page);
  return { from: 'read', page };
}

describe('PageCache', () => {
  it('serves a page again while the version stands, and reads anew once it moves', () => {
    const { db, cache } = cacheAt('1:0');
    expect(read(cache, '/builds', () => body('a')).from).toBe('read');
    expect(read(cache, '/builds', () => body('x'))).toEqual({ from: 'cache', page: body('a') });
    expect(cache.hits).toBe(1);
    db.version = '2:0';
    expect(read(cache, '/builds', () => body('b'))).toEqual({ from: 'read', page: body('b') });
    expect(read(cache, '/builds', () => body('x')).page).toEqual(body('b'));
    // Another key is another page.
    expect(read(cache, '/builds?limit=2', () => body('c')).from).toBe('read');
  });

  it('keeps nothing read while a write landed', () => {
    const { db, cache } = cacheAt('1:0');
    read(
      cache,
      '/builds',
      () => body('old'),
      () => (db.version = '2:0'),
    );
    expect(read(cache, '/builds', () => body('new'))).toEqual({ from: 'read', page: body('new') });
    expect(read(cache, '/builds', () => body('x')).page).toEqual(body('new'));
  });

  it('keeps nothing where the database has no version (PostgreSQL)', () => {
    const { cache } = cacheAt(null);
    read(cache, '/builds', () => body('a'));
    expect(read(cache, '/builds', () => body('b'))).toEqual({ from: 'read', page: body('b') });
    expect(cache.hits).toBe(0);
  });

  it('drops the least recently used past its entries and bytes', () => {
    const { cache } = cacheAt('1:0', { entries: 2, bytes: 10 });
    read(cache, 'a', () => body('aaa'));
    read(cache, 'b', () => body('bbb'));
    read(cache, 'a', () => body('x')); // a used last: b goes first
    read(cache, 'c', () => body('ccc'));
    expect(read(cache, 'a', () => body('x')).from).toBe('cache');
    expect(read(cache, 'b', () => body('bbb')).from).toBe('read');
    // 4 + 3 + … past 10 bytes: the oldest go until it fits; a page bigger than the bound is never kept.
    read(cache, 'd', () => body('dddddddd'));
    expect(read(cache, 'd', () => body('x')).from).toBe('cache');
    expect(read(cache, 'b', () => body('bbb')).from).toBe('read');
    read(cache, 'e', () => body('e'.repeat(11)));
    expect(read(cache, 'e', () => body('x')).from).toBe('read');
  });
});
