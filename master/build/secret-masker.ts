/**
 * Replaces secret values with a mask, in logs (streamed: a secret split across two chunks of output
 * is still caught, by holding back a tail shorter than the longest secret until more output or the
 * end), in property values shown by the API, and in metric tags. Like Buildkite's redacted variables.
 */
export const MASK = '********';

export class SecretMasker {
  private readonly secrets: Buffer[];
  readonly longest: number;

  constructor(values: string[]) {
    // Longest first, so a secret containing another is masked whole.
    this.secrets = [...new Set(values.filter((v) => v.length >= 4))].sort((a, b) => b.length - a.length).map((v) => Buffer.from(v));
    this.longest = this.secrets.reduce((m, s) => Math.max(m, s.length), 0);
  }

  get empty(): boolean {
    return this.secrets.length === 0;
  }

  maskBuffer(data: Buffer): Buffer {
    if (this.empty) return data;
    let out = data;
    for (const secret of this.secrets) {
      if (out.indexOf(secret) === -1) continue;
      const parts: Buffer[] = [];
      let from = 0;
      for (let i = out.indexOf(secret); i !== -1; i = out.indexOf(secret, from)) {
        parts.push(out.subarray(from, i), Buffer.from(MASK));
        from = i + secret.length;
      }
      parts.push(out.subarray(from));
      out = Buffer.concat(parts);
    }
    return out;
  }

  maskText(text: string): string {
    return this.empty ? text : this.maskBuffer(Buffer.from(text)).toString();
  }

  /** Masks every string inside a JSON-like value. */
  maskValue<T>(value: T): T {
    // Masking keeps the shape (a string stays a string, an object the same keys): the one cast here says so.
    return this.empty ? value : (this.maskUnknown(value) as T);
  }

  private maskUnknown(value: unknown): unknown {
    if (typeof value === 'string') return this.maskText(value);
    if (Array.isArray(value)) return value.map((v: unknown) => this.maskUnknown(v));
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.maskUnknown(v)]));
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
