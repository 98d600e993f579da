import { persistedExchange } from "@urql/exchange-persisted";
import { Client, cacheExchange, fetchExchange } from "urql";
import { storedToken } from "./token";

/** Where the service answers: this origin's /graphql (proxied by Vite), or VITE_API_URL. */
export const API_URL: string = import.meta.env.VITE_API_URL ?? "/graphql";

/**
 * urql with the service's automatic persisted queries: each query is sent as its SHA-256 alone
 * (over GET, so a CDN may cache it), and with its text only the first time the server has not
 * seen it. Mutations always go over POST.
 */
export const client = new Client({
  url: API_URL,
  exchanges: [cacheExchange, persistedExchange({ preferGetForPersistedQueries: true }), fetchExchange],
  requestPolicy: "cache-and-network",
  // Read for every request, so a token pasted in the header bar counts at once.
  fetchOptions: (): RequestInit => {
    const token = storedToken();
    return token ? { headers: { authorization: `Bearer ${token}` } } : {};
  },
});
