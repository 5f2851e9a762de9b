/** Paths the master sends an agent stay inside the agent's base directory: relative, no "..". */
export function isSafeRelativePath(p: string): boolean {
  if (p.length === 0 || p.length > 500 || p.startsWith('/') || p.includes('\0') || p.includes('\\')) return false;
  return p.split('/').every((part) => part !== '..');
}
