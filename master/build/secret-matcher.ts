/**
 * Finds every occurrence of many byte patterns in one pass over a text: an Aho–Corasick automaton,
 * so the cost of a scan grows with the text, not with the number of secrets (a master with 10 000
 * agents knows 10 000 tokens, and scanned each property string once per token before).
 *
 * It works on bytes (UTF-8), not on characters: logs arrive as raw bytes that may split a character
 * across chunks, and a secret must be found whatever follows it (a matcher that respects grapheme
 * clusters would miss `token` followed by a combining accent). A string that is plain ASCII is
 * scanned as it is, without being encoded first: most property values are.
 *
 * Storage is a few typed arrays, whatever the number of patterns: the trie's nodes are numbered in
 * the order of the sorted patterns, and each node's edges sit side by side (sorted by byte) in one
 * array, so a lookup is a short scan, or a binary search for a node with many children. The root has
 * a full table of 256 entries: in ordinary text most bytes lead back to it.
 *
 * With a handful of patterns (a master with one agent and a few configured secrets) the native
 * `indexOf` of each pattern is faster than any automaton written in JavaScript (≈ 1 GB/s against
 * ≈ 250 MB/s), and a 50 MB log should not pay for the 10 000-agent case: such a matcher searches
 * pattern by pattern. Both ways give the same ranges (test/unit/secret-masker.test.ts checks them
 * against one reference).
 */

/** Matched ranges, merged where they overlap: `[start0, end0, start1, end1, …]`, ends exclusive, ascending. */
export type Ranges = number[];

/** Above this many edges a node's child is found by binary search. */
const LINEAR_EDGES = 8;
/** Up to this many patterns, each is searched for on its own with the native indexOf. */
export const FEW_PATTERNS = 8;

/** What a scan found: the ranges, and how many bytes at the end may be the start of a pattern that later bytes complete. */
export interface Scan {
  ranges: Ranges;
  pending: number;
}

export class SecretMatcher {
  /** The root's child for each byte (0: none, stay at the root). */
  private readonly rootNext = new Int32Array(256);
  /** Per node: where its edges start in `edgeLabel`/`edgeTarget`, and how many it has. */
  private readonly edgeStart: Int32Array;
  private readonly edgeCount: Int32Array;
  private readonly edgeLabel: Uint8Array;
  private readonly edgeTarget: Int32Array;
  /** Per node: the node of its longest proper suffix that is also in the trie. */
  private readonly fail: Int32Array;
  /** Per node: the length of the longest pattern that ends here (its own, or one of its suffixes), or 0. */
  private readonly matchLength: Int32Array;
  /** Per node: the length of the longest suffix here that is the proper start of a pattern (what a stream holds back). */
  private readonly pendingLength: Int32Array;
  /** The longest pattern's length in bytes. */
  readonly longest: number;
  readonly size: number;
  /** The patterns, when there are few enough to search for one by one (else null). */
  private readonly few: Buffer[] | null;
  private readonly fewText: string[];

  constructor(patterns: readonly Buffer[]) {
    const sorted = [...patterns].filter((p) => p.length > 0).sort(Buffer.compare);
    this.size = sorted.length;
    this.few = sorted.length <= FEW_PATTERNS ? sorted : null;
    // As text, for ASCII strings; a pattern beyond ASCII cannot occur in one.
    this.fewText = sorted.filter((p) => p.every((b) => b < 0x80)).map((p) => p.toString('latin1'));
    // The trie, built from the sorted patterns: a pattern shares its start with the one before it,
    // so its new nodes hang off the path just walked, and each node's children come in byte order.
    const parent: number[] = [-1];
    const label: number[] = [0];
    const depth: number[] = [0];
    const own: number[] = [0];
    const path: number[] = [0];
    let previous: Buffer = Buffer.alloc(0);
    let longest = 0;
    for (const p of sorted) {
      let common = 0;
      while (common < p.length && common < previous.length && p[common] === previous[common]) common++;
      path.length = common + 1;
      for (let i = common; i < p.length; i++) {
        const node = parent.length;
        parent.push(path[i] as number);
        label.push(p[i] as number);
        depth.push(i + 1);
        own.push(0);
        path.push(node);
      }
      own[path[p.length] as number] = p.length;
      longest = Math.max(longest, p.length);
      previous = p;
    }
    this.longest = longest;
    const nodes = parent.length;
    // Edges grouped by parent (a counting sort keeps each node's children in byte order).
    this.edgeCount = new Int32Array(nodes);
    for (let n = 1; n < nodes; n++) {
      const p = parent[n] as number;
      this.edgeCount[p] = (this.edgeCount[p] as number) + 1;
    }
    this.edgeStart = new Int32Array(nodes);
    for (let n = 1, at = this.edgeCount[0] as number; n < nodes; n++) {
      this.edgeStart[n] = at;
      at += this.edgeCount[n] as number;
    }
    this.edgeLabel = new Uint8Array(Math.max(nodes - 1, 0));
    this.edgeTarget = new Int32Array(Math.max(nodes - 1, 0));
    const filled = new Int32Array(nodes);
    for (let n = 1; n < nodes; n++) {
      const p = parent[n] as number;
      const at = (this.edgeStart[p] as number) + (filled[p] as number);
      filled[p] = at - (this.edgeStart[p] as number) + 1;
      this.edgeLabel[at] = label[n] as number;
      this.edgeTarget[at] = n;
      if (p === 0) this.rootNext[label[n] as number] = n;
    }
    // Failure links and what each node matches, breadth first (a node's suffixes are shallower).
    this.fail = new Int32Array(nodes);
    this.matchLength = new Int32Array(nodes);
    this.pendingLength = new Int32Array(nodes);
    const queue = new Int32Array(nodes);
    let head = 0;
    let tail = 0;
    for (let e = 0; e < (this.edgeCount[0] as number); e++) queue[tail++] = this.edgeTarget[e] as number;
    while (head < tail) {
      const u = queue[head++] as number;
      const f = this.fail[u] as number;
      this.matchLength[u] = Math.max(own[u] as number, this.matchLength[f] as number);
      this.pendingLength[u] = (this.edgeCount[u] as number) > 0 ? (depth[u] as number) : (this.pendingLength[f] as number);
      const start = this.edgeStart[u] as number;
      for (let e = start; e < start + (this.edgeCount[u] as number); e++) {
        const v = this.edgeTarget[e] as number;
        this.fail[v] = this.next(f, this.edgeLabel[e] as number);
        queue[tail++] = v;
      }
    }
  }

  /** The automaton's move from `state` on `byte`. */
  next(state: number, byte: number): number {
    for (let s = state; s !== 0; s = this.fail[s] as number) {
      const child = this.child(s, byte);
      if (child !== 0) return child;
    }
    return this.rootNext[byte] as number;
  }

  private child(s: number, byte: number): number {
    const start = this.edgeStart[s] as number;
    const count = this.edgeCount[s] as number;
    if (count <= LINEAR_EDGES) {
      for (let e = start; e < start + count; e++) {
        const l = this.edgeLabel[e] as number;
        if (l === byte) return this.edgeTarget[e] as number;
        if (l > byte) return 0;
      }
      return 0;
    }
    let lo = start;
    let hi = start + count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const l = this.edgeLabel[mid] as number;
      if (l === byte) return this.edgeTarget[mid] as number;
      if (l < byte) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** Every matched range of `data` (merged where they overlap), and what its end may hold of a pattern. */
  scan(data: Buffer): Scan {
    if (this.few) return this.scanFew(data, this.few);
    const ranges: Ranges = [];
    let s = 0;
    for (let i = 0; i < data.length; i++) {
      s = s === 0 ? (this.rootNext[data[i] as number] as number) : this.next(s, data[i] as number);
      const length = this.matchLength[s] as number;
      if (length > 0) addRange(ranges, i + 1 - length, i + 1);
    }
    return { ranges, pending: this.pendingLength[s] as number };
  }

  /**
   * The matched ranges of a string, in UTF-16 units, if it is plain ASCII (one byte per unit), or
   * null for a string that must be encoded first.
   */
  scanAscii(text: string): Ranges | null {
    if (this.few) return isAscii(text) ? fewRanges(this.fewText, (p, from) => text.indexOf(p, from)) : null;
    const ranges: Ranges = [];
    let s = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) return null;
      s = s === 0 ? (this.rootNext[c] as number) : this.next(s, c);
      const length = this.matchLength[s] as number;
      if (length > 0) addRange(ranges, i + 1 - length, i + 1);
    }
    return ranges;
  }

  private scanFew(data: Buffer, patterns: Buffer[]): Scan {
    const ranges = fewRanges(patterns, (p, from) => data.indexOf(p, from));
    // The longest tail of data that is the start (and not the whole) of a pattern.
    let pending = 0;
    for (const p of patterns) {
      for (let k = Math.min(p.length - 1, data.length); k > pending; k--) {
        if (data.subarray(data.length - k).equals(p.subarray(0, k))) {
          pending = k;
          break;
        }
      }
    }
    return { ranges, pending };
  }
}

/** Adds [start, end) to ranges whose ends never exceed `end`, merging those it overlaps (adjacent ones stay apart). */
function addRange(ranges: Ranges, start: number, end: number): void {
  let s = start;
  while (ranges.length > 0 && s < (ranges[ranges.length - 1] as number)) {
    s = Math.min(s, ranges[ranges.length - 2] as number);
    ranges.length -= 2;
  }
  ranges.push(s, end);
}

/** Every occurrence of each pattern (overlapping ones too), as merged ranges. */
function fewRanges<P extends { length: number }>(patterns: P[], indexOf: (p: P, from: number) => number): Ranges {
  const found: [number, number][] = [];
  for (const p of patterns) for (let i = indexOf(p, 0); i !== -1; i = indexOf(p, i + 1)) found.push([i, i + p.length]);
  if (found.length === 0) return [];
  found.sort((a, b) => a[0] - b[0]);
  const ranges: Ranges = [];
  for (const [start, end] of found) {
    const last = ranges.length - 1;
    if (last > 0 && start < (ranges[last] as number)) ranges[last] = Math.max(ranges[last] as number, end);
    else ranges.push(start, end);
  }
  return ranges;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}
