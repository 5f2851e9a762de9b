/**
 * ['builders', 2, 'factory'] -> 'builders[2].factory'; keys that are not identifiers (record keys
 * like decodeRC's "0" or a property "my-prop") are written as the config spells them: ["my-prop"].
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out;
}
