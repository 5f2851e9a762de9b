/**
 * The masker's matching: many secrets at once, secrets that overlap or contain one another, a secret
 * that is the start of another, UTF-8 text, and streams that split any of these across chunks. A
 * reference masker (every occurrence of every secret by indexOf, overlapping ranges merged) says what
 * the answer must be; fast-check tries texts and chunkings that a hand-written case would not.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MASK, NAME_MASK, SecretMasker } from '../../master/build/secret-masker.ts';

/** What masking must give: each run of overlapping occurrences replaced by one mask, adjacent ones kept apart. */
function reference(text: Buffer, secrets: string[], mask = MASK): Buffer {
  const kept = secrets.filter((s) => s.length >= 4);
  const forms = [...new Set([...kept, ...kept.map((s) => JSON.stringify(s).slice(1, -1))])].map((s) => Buffer.from(s));
  const ranges: [number, number][] = [];
  for (const f of forms) for (let i = text.indexOf(f); i !== -1; i = text.indexOf(f, i + 1)) ranges.push([i, i + f.length]);
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [s, e] of ranges) {
    const last = merged[merged.length - 1];
    if (last && s < last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  const parts: Buffer[] = [];
  let from = 0;
  for (const [s, e] of merged) {
    parts.push(text.subarray(from, s), Buffer.from(mask));
    from = e;
  }
  parts.push(text.subarray(from));
  return Buffer.concat(parts);
}

/** `text` pushed through a stream in pieces cut at `cuts` (byte offsets). */
function streamed(masker: SecretMasker, text: Buffer, cuts: number[]): Buffer {
  const stream = masker.stream();
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    out.push(stream.push(text.subarray(from, cut)));
    from = cut;
  }
  out.push(stream.push(text.subarray(from)), stream.end());
  return Buffer.concat(out);
}

describe('SecretMasker matching', () => {
  it('masks overlapping secrets as one: no part of either shows', () => {
    const masker = new SecretMasker(['abcd', 'cdef']);
    expect(masker.maskText('xx abcdef yy')).toBe(`xx ${MASK} yy`);
    expect(masker.maskText('abcdabcd')).toBe(`${MASK}${MASK}`); // adjacent: two masks
    expect(new SecretMasker(['aaaa']).maskText('aaaaa b')).toBe(`${MASK} b`); // overlapping repeats
  });

  it('masks a secret inside another whole, and a secret that is the start of another', () => {
    const masker = new SecretMasker(['secret', 'secret-long', 'cret-l']);
    expect(masker.maskText('a secret-long b')).toBe(`a ${MASK} b`);
    expect(masker.maskText('a secret-lo b')).toBe(`a ${MASK}o b`); // secret and cret-l overlap: masked as one
    expect(masker.maskText('a secret b')).toBe(`a ${MASK} b`);
    expect(masker.maskText('a secre b')).toBe('a secre b');
  });

  it('a secret that is the start of another, split across chunks, is masked whole', () => {
    const masker = new SecretMasker(['secret', 'secretX-more']);
    for (const text of ['>secretX-more<', '>secret<', '>secretX-mo<']) {
      const bytes = Buffer.from(text);
      for (let cut = 0; cut <= bytes.length; cut++) {
        expect(streamed(masker, bytes, [cut]).toString(), `${text} cut at ${cut}`).toBe(
          reference(bytes, ['secret', 'secretX-more']).toString(),
        );
      }
    }
  });

  it('holds back nothing of ordinary output', () => {
    const stream = new SecretMasker(['password1']).stream();
    expect(stream.push(Buffer.from('line one\n')).toString()).toBe('line one\n');
    expect(stream.push(Buffer.from('pass')).toString()).toBe('');
    expect(stream.push(Buffer.from('port\n')).toString()).toBe('passport\n');
    expect(stream.end().length).toBe(0);
  });

  it('UTF-8: secrets and texts beyond ASCII, and chunks cut inside a character', () => {
    const secrets = ['pässwörd', '密码密码', '🔑key🔑', 'ascii-secret'];
    const masker = new SecretMasker(secrets);
    expect(masker.maskText('login: pässwörd, 密码密码; 🔑key🔑 und ascii-secret!')).toBe(`login: ${MASK}, ${MASK}; ${MASK} und ${MASK}!`);
    expect(masker.maskText('é ascii-secret é')).toBe(`é ${MASK} é`);
    // A combining accent after a secret does not hide it.
    expect(masker.maskText('ascii-secret\u0301')).toBe(`${MASK}\u0301`);
    expect(masker.maskName('time_密码密码')).toBe(`time_${NAME_MASK}`);
    const bytes = Buffer.from('→ pässwörd ← 密码密码 🔑key🔑');
    for (let cut = 0; cut <= bytes.length; cut++) {
      expect(streamed(masker, bytes, [cut]).toString(), `cut at byte ${cut}`).toBe(`→ ${MASK} ← ${MASK} ${MASK}`);
    }
  });

  it('10 000 secrets: each is found, and a page of property strings is masked in milliseconds', () => {
    const tokens = Array.from({ length: 10_000 }, (_, i) => `agent-token-${i}-${((i * 2654435761) % 2 ** 32).toString(16)}`);
    const masker = new SecretMasker(tokens);
    for (const i of [0, 1, 4999, 9999]) expect(masker.maskText(`x ${tokens[i]} y`)).toBe(`x ${MASK} y`);
    // Shorter than a token, but its start: not masked.
    expect(masker.maskText('agent-token-12')).toBe('agent-token-12');
    // What GET /builds?limit=200 masks: 200 builds of 10 properties. One pass per string, not one per secret.
    const values = Array.from({ length: 2000 }, (_, i) => `value ${i} of a property, agent-token-${i} and some more text`);
    const t0 = performance.now();
    for (const v of values) masker.maskText(v);
    expect(performance.now() - t0).toBeLessThan(100);
  });

  it('agrees with the reference on any text, secrets and chunking', () => {
    const alphabet = fc.constantFrom('a', 'b', '"', 'é', '\n');
    const word = (min: number, max: number) => fc.array(alphabet, { minLength: min, maxLength: max }).map((cs) => cs.join(''));
    // Texts made of secrets, their starts and ends, and other bytes: overlaps and near misses are common.
    const case_ = fc.array(word(2, 7), { minLength: 1, maxLength: 6 }).chain((secrets) => {
      const secret = fc.constantFrom(...secrets);
      const piece = fc.oneof(
        secret,
        secret.chain((s) => fc.nat(s.length).map((k) => s.slice(k))),
        secret.chain((s) => fc.nat(s.length).map((k) => s.slice(0, k))),
        word(0, 3),
      );
      return fc.tuple(
        fc.constant(secrets),
        fc.array(piece, { maxLength: 12 }).map((ps) => ps.join('')),
        fc.array(fc.nat(80), { maxLength: 5 }),
      );
    });
    fc.assert(
      fc.property(case_, ([secrets, text, cuts]) => {
        const masker = new SecretMasker(secrets);
        const bytes = Buffer.from(text);
        const expected = reference(bytes, secrets);
        expect(masker.maskBuffer(bytes).toString()).toBe(expected.toString());
        expect(masker.maskText(text)).toBe(expected.toString());
        expect(
          streamed(
            masker,
            bytes,
            cuts.filter((c) => c <= bytes.length),
          ).toString(),
        ).toBe(expected.toString());
      }),
      { numRuns: 3000 },
    );
  });
});
