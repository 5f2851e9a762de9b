import { describe, expect, it } from 'vitest';
import type { InsertResult } from 'typeorm';
import { z } from 'zod';
import { resultOrNull } from '../../master/db/entities.ts';
import { insertedId } from '../../master/db/inserted-id.ts';
import { InvalidJsonError, parseJson } from '../../core/parse-json.ts';
import { parsePropertyMap, parsePropertyValues } from '../../steps/properties/properties.ts';
import { Results } from '../../core/results.ts';

describe('a results column', () => {
  it('reads back each result code, and null', () => {
    for (const code of Object.values(Results)) expect(resultOrNull.from(code)).toBe(code);
    expect(resultOrNull.from('2')).toBe(Results.FAILURE); // a driver that answers integers as text
    expect(resultOrNull.from(null)).toBeNull();
  });

  it('fails on a code no result has, instead of passing it on', () => {
    for (const bad of [7, -1, 2.5, 'x']) expect(() => resultOrNull.from(bad)).toThrow(/is not a result code/);
  });
});

describe('parseJson', () => {
  const list = z.array(z.string());

  it('returns the value when it has the shape', () => {
    expect(parseJson('["a","b"]', list, 'tags')).toEqual(['a', 'b']);
  });

  it('names what it read when the text is not JSON or not the shape', () => {
    expect(() => parseJson('[a', list, 'the tag keys of series x')).toThrow(InvalidJsonError);
    expect(() => parseJson('[a', list, 'the tag keys of series x')).toThrow(/^the tag keys of series x is not JSON/);
    expect(() => parseJson('[1]', list, 'tags')).toThrow(/^tags does not have the expected shape: \[0\]: /);
  });
});

describe('stored properties', () => {
  it('reads what Properties.toJSON() and a request wrote', () => {
    expect(parsePropertyMap('{"branch":["main","Scheduler"],"n":[{"a":[1,null]},"Build"]}', 'p')).toEqual({
      branch: ['main', 'Scheduler'],
      n: [{ a: [1, null] }, 'Build'],
    });
    expect(parsePropertyValues('{"revision":"abc","x":1}', 'p')).toEqual({ revision: 'abc', x: 1 });
  });

  it('refuses another shape', () => {
    expect(() => parsePropertyMap('{"branch":"main"}', 'build 3 properties')).toThrow(/^build 3 properties does not have/);
    expect(() => parsePropertyValues('[]', 'p')).toThrow(InvalidJsonError);
  });
});

describe('insertedId', () => {
  const result = (identifiers: Record<string, unknown>[]): InsertResult => ({ identifiers, generatedMaps: [], raw: undefined });

  it('reads the generated id, a number or (PostgreSQL bigint) a string', () => {
    expect(insertedId(result([{ id: 12 }]))).toBe(12);
    expect(insertedId(result([{ id: '13' }]))).toBe(13);
  });

  it('fails when the insert gave no id', () => {
    expect(() => insertedId(result([]))).toThrow(/no usable id/);
    expect(() => insertedId(result([{ id: null }]))).toThrow(/no usable id/);
  });
});
