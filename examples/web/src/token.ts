/**
 * The bearer token the app sends, kept in this browser's localStorage. The service checks it
 * when it runs with JWT_SECRET or a key file; an open service ignores it.
 */
const KEY = "authors-books-token";

export function storedToken(): string | null {
  return window.localStorage.getItem(KEY);
}

export function storeToken(token: string | null): void {
  if (token) window.localStorage.setItem(KEY, token);
  else window.localStorage.removeItem(KEY);
}
