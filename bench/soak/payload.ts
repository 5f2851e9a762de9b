/**
 * What every soak build prints, derived from its `seq` property only, so the soak knows each log's
 * bytes before the build runs and can compare them byte for byte. Two steps, both on stdout (stdout
 * and stderr interleave as the kernel pleases, so one stream keeps the bytes deterministic):
 *   - `text`: 40 numbered lines (~3.5 KB) whose numbers depend on seq, then a last line without newline;
 *   - `bytes`: NUL, control bytes, bytes that are not UTF-8, CR LF, multi-byte UTF-8, no final newline.
 * The scripts are run by `sh -c` (dash here) with SEQ in the environment; only builtins, so a step
 * costs one fork.
 */

export const TEXT_LINES = 40;
const PAD = 'the quick brown fox jumps over the lazy dog 0123456789';

/** A line's number: arithmetic both sh (64-bit) and JS compute exactly for any seq the soak uses. */
const lineNumber = (seq: number, line: number) => (seq * 7919 + line * 104_729) % 1_000_003;

export const TEXT_SCRIPT = [
  'i=1',
  `while [ $i -le ${TEXT_LINES} ]; do`,
  `  printf 'soak %s line %02d %s ${PAD}\\n' "$SEQ" "$i" $(( (SEQ * 7919 + i * 104729) % 1000003 ))`,
  '  i=$((i + 1))',
  'done',
  `printf 'seq %s ends without a newline' "$SEQ"`,
].join('\n');

export function expectedText(seq: number): Buffer {
  const lines: string[] = [];
  for (let i = 1; i <= TEXT_LINES; i++) lines.push(`soak ${seq} line ${String(i).padStart(2, '0')} ${lineNumber(seq, i)} ${PAD}\n`);
  lines.push(`seq ${seq} ends without a newline`);
  return Buffer.from(lines.join(''));
}

/** Octal escapes for printf: NUL, 0x01, 0x1f, DEL, 0x80, 0xfe, 0xff, CR LF; then "café €" in UTF-8. */
export const BYTES_SCRIPT = `printf 'bin %s:\\000\\001\\037\\177\\200\\376\\377\\r\\ncaf\\303\\251 \\342\\202\\254 %s' "$SEQ" $((SEQ % 251))`;

export function expectedBytes(seq: number): Buffer {
  return Buffer.concat([
    Buffer.from(`bin ${seq}:`),
    Buffer.from([0x00, 0x01, 0x1f, 0x7f, 0x80, 0xfe, 0xff, 0x0d, 0x0a]),
    Buffer.from(`café € ${seq % 251}`),
  ]);
}

/** The soak builder's steps, by name, with the bytes each one's `stdio` log must hold. */
export const STEPS = [
  { name: 'text', script: TEXT_SCRIPT, expected: expectedText },
  { name: 'bytes', script: BYTES_SCRIPT, expected: expectedBytes },
] as const;
