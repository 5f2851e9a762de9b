/**
 * Replaces secret values with a mask wherever a build's text lands: logs (streamed: a secret split
 * across two chunks of output is still caught, by holding back a tail shorter than the longest secret
 * until more output or the end), state strings, stored properties (names and values), metric series
 * names and tags. Like Buildkite's redacted variables. A secret is also masked in its JSON-escaped form
 * (`pa\"ss`), since parse errors quote output with JSON.stringify.
 */
export const MASK = '********';
/** What replaces a secret inside a name that must stay a valid series or tag name. */
export const NAME_MASK = 'MASKED';

export class SecretMasker {
  private readonly secrets: Buffer[];
  readonly longest: number;

  constructor(values: string[]) {
    const kept = values.filter((v) => v.length >= 4);
    const forms = [...kept, ...kept.map((v) => JSON.stringify(v).slice(1, -1))];
    // Longest first, so a secret containing another is masked whole.
    this.secrets = [...new Set(forms)].sort((a, b) => b.length - a.length).map((v) => Buffer.from(v));
    this.longest = this.secrets.reduce((m, s) => Math.max(m, s.length), 0);
  }

  get empty(): boolean {
    return this.secrets.length === 0;
  }

  maskBuffer(data: Buffer, mask: string = MASK): Buffer {
    if (this.empty) return data;
    let out = data;
    for (const secret of this.secrets) {
      if (out.indexOf(secret) === -1) continue;
      const parts: Buffer[] = [];
      let from = 0;
      for (let i = out.indexOf(secret); i !== -1; i = out.indexOf(secret, from)) {
        parts.push(out.subarray(from, i), Buffer.from(mask));
        from = i + secret.length;
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return out;
  }

  /** Masks, then cuts to `maxChars` (cutting first could leave the start of a secret). */
  maskText(text: string, maxChars = Infinity): string {
    const masked = this.empty ? text : this.maskBuffer(Buffer.from(text)).toString();
    return masked.length > maxChars ? masked.slice(0, maxChars) : masked;
  }

  /** A series or tag name with each secret replaced by NAME_MASK, so it stays a valid name. */
  maskName(name: string): string {
    return this.empty ? name : this.maskBuffer(Buffer.from(name), NAME_MASK).toString();
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

  /** Length of the longest tail of `data` that some secret starts with (and is not whole). */
  private pendingPrefix(data: Buffer): number {
    for (let k = Math.min(this.longest - 1, data.length); k > 0; k--) {
      const tail = data.subarray(data.length - k);
      if (this.secrets.some((s) => s.length > k && s.subarray(0, k).equals(tail))) return k;
    }
    return 0;
  }

  /** A masker for one stream of output that may split a secret across chunks. */
  stream(): { push(data: Buffer): Buffer; end(): Buffer } {
    let held: Buffer = Buffer.alloc(0);
    return {
      push: (data) => {
        if (this.empty) return data;
        const masked = this.maskBuffer(held.length > 0 ? Buffer.concat([held, data]) : data);
        // Hold back only a tail that is the start of a secret (the next chunk may complete it), so
        // ordinary output is never delayed or reordered.
        const cut = masked.length - this.pendingPrefix(masked);
        held = masked.subarray(cut);
        return masked.subarray(0, cut);
      },
      end: () => {
        const rest = held;
        held = Buffer.alloc(0);
        return rest;
      },
    };
  }
}
