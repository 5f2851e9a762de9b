/** The message of something thrown: an Error's own, or the thrown value itself as text. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
