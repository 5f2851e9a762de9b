import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mean, stddev } from '../src/stats.js';

test('mean', () => assert.equal(mean([1, 2, 3, 4]), 2.5));
test('stddev is the sample deviation', () => assert.ok(Math.abs(stddev([2, 4, 4, 4, 5, 5, 7, 9]) - 2.138089935) < 1e-9));
test('empty input is an error', () => assert.throws(() => mean([]), RangeError));
