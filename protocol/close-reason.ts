/** A WebSocket close reason may be at most 123 bytes (UTF-8): cut on a character boundary to fit. */
export function closeReason(reason: string, maxBytes = 123): string {
  if (Buffer.byteLength(reason) <= maxBytes) return reason;
  let out = '';
  for (const ch of reason) {
    if (Buffer.byteLength(out + ch) > maxBytes - 3) break;
    out += ch;
  }
  return `${out}...`;
}
