/**
 * Replaces secret values with a mask wherever a build's text lands: logs (streamed: a secret split
 * across two chunks of output is still caught, by holding back a tail that could be the start of a
 * secret until more output or the end), state strings, stored properties (names and values), metric series
 * names and tags. Like Buildkite's redacted variables. A secret is also masked in its JSON-escaped form
 * (`pa\"ss`), since parse errors quote output with JSON.stringify.
 *
 * Every secret is found in one pass over the text (secret-matcher.ts), so masking costs the same with
 * one secret or with the tokens of 10 000 agents.
 */
import { SecretMatcher, type Ranges } from './secret-matcher.ts';

export const MASK = '********';
/** What replaces a secret inside a name that must stay a valid series or tag name. */
export const NAME_MASK = 'MASKED';

export class SecretMasker {
  private readonly matcher: SecretMatcher;
  readonly longest: number;

  constructor(values: string[]) {
    const kept = values.filter((v) => v.length >= 4);
    const forms = [...kept, ...kept.map((v) => JSON.stringify(v).slice(1, -1))];
    // One automaton for every form of every secret: a text is read once, however many secrets there are.
    this.matcher = new SecretMatcher([...new Set(forms)].map((v) => Buffer.from(v)));
    this.longest = this.matcher.longest;
  }

  get empty(): boolean {
    return this.matcher.size === 0;
  }

  /**
   * The bytes with each secret replaced by `mask`. Secrets that overlap (`abcd` and `cdef` in
   * `abcdef`), or one inside another, are masked together as one: no part of either shows.
   */
  maskBuffer(data: Buffer, mask: string = MASK): Buffer {
    if (this.empty) return data;
    return replaceRanges(data, this.matcher.scan(data).ranges, mask);
  }

  /** Masks, then cuts to `maxChars` (cutting first could leave the start of a secret). */
  maskText(text: string, maxChars = Infinity): string {
    const masked = this.maskString(text, MASK);
    return masked.length > maxChars ? masked.slice(0, maxChars) : masked;
  }

  /** A series or tag name with each secret replaced by NAME_MASK, so it stays a valid name. */
  maskName(name: string): string {
    return this.maskString(name, NAME_MASK);
  }

  private maskString(text: string, mask: string): string {
    if (this.empty) return text;
    // Plain ASCII (most names and values) is read as it is; anything else as its UTF-8 bytes.
    const ranges = this.matcher.scanAscii(text);
    if (ranges === null) return this.maskBuffer(Buffer.from(text), mask).toString();
    if (ranges.length === 0) return text;
    let out = '';
    let from = 0;
    for (let i = 0; i < ranges.length; i += 2) {
      out += text.slice(from, ranges[i]) + mask;
      from = ranges[i + 1] as number;
    }
    return out + text.slice(from);
  }

  /** Masks every string inside a JSON-like value, object keys included (a property's name can be a secret). */
  maskValue<T>(value: T): T {
    // Masking keeps the shape (a string stays a string, an object an object): the one cast here says so.
    return this.empty ? value : (this.maskUnknown(value) as T);
  }

  /** The JSON text of a value with its secrets masked: what is stored (build properties). */
  maskJson(value: unknown): string {
    return JSON.stringify(this.maskUnknown(value));
  }

  private maskUnknown(value: unknown): unknown {
    if (this.empty) return value;
    if (typeof value === 'string') return this.maskText(value);
    if (Array.isArray(value)) return value.map((v: unknown) => this.maskUnknown(v));
    if (value && typeof value === 'object') {
      const used = new Set<string>();
      const entries = Object.entries(value).map(([k, v]): [string, unknown] => {
        // Two names that mask alike (`a_<one secret>`, `a_<another>`) both stay, the later one numbered.
        const masked = this.maskText(k);
        let key = masked;
        for (let n = 2; used.has(key); n++) key = `${masked}#${n}`;
        used.add(key);
        return [key, this.maskUnknown(v)];
      });
      return Object.fromEntries(entries);
    }
    return value;
  }

  /** A masker for one stream of output that may split a secret across chunks. */
  stream(): { push(data: Buffer): Buffer; end(): Buffer } {
    let held: Buffer = Buffer.alloc(0);
    return {
      push: (data) => {
        if (this.empty) return data;
        const text = held.length > 0 ? Buffer.concat([held, data]) : data;
        const { ranges, pending } = this.matcher.scan(text);
        // Hold back only a tail that is the start of a secret (the next chunk may complete it), so
        // ordinary output is never delayed or reordered; and a secret that runs into that tail is
        // held whole, to be found again with what follows. The tail is kept unmasked: it is read
        // again from its start, and no match can begin before it and end after it.
        let cut = text.length - pending;
        while (ranges.length > 0 && (ranges[ranges.length - 1] as number) > cut) {
          const start = ranges[ranges.length - 2] as number;
          ranges.length -= 2;
          if (start < cut) {
            cut = start;
            break;
          }
        }
        held = Buffer.from(text.subarray(cut));
        return replaceRanges(text.subarray(0, cut), ranges, MASK);
      },
      end: () => {
        const rest = held;
        held = Buffer.alloc(0);
        return this.maskBuffer(rest);
      },
    };
  }
}

/** `data` with each range replaced by `mask`. */
function replaceRanges(data: Buffer, ranges: Ranges, mask: string): Buffer {
  if (ranges.length === 0) return data;
  const maskBytes = Buffer.from(mask);
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < ranges.length; i += 2) {
    parts.push(data.subarray(from, ranges[i]), maskBytes);
    from = ranges[i + 1] as number;
  }
  parts.push(data.subarray(from));
  return Buffer.concat(parts);
}
