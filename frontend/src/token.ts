/** The API token for writes, kept in localStorage under 'caliper-token' (in memory if storage is off). */
const KEY = 'caliper-token';
let inMemory = '';

export function loadToken(): string {
  try {
    return localStorage.getItem(KEY) ?? '';
  } catch {
    return inMemory;
  }
}

export function saveToken(token: string): void {
  inMemory = token;
  try {
    if (token) localStorage.setItem(KEY, token);
    else localStorage.removeItem(KEY);
  } catch {
    // storage disabled: inMemory keeps it for this page load
  }
}
