import { defineConfig } from "vite";

// The app calls `/graphql` on its own origin; the dev server and `vite preview` pass it on to the
// service (API_ORIGIN, by default the one `cargo run -p api` starts), so no CORS setting is needed.
// A build served from elsewhere sets VITE_API_URL and the service's CORS_ALLOWED_ORIGINS instead.
const api = process.env.API_ORIGIN ?? "http://127.0.0.1:8000";
const proxy = { "/graphql": { target: api, changeOrigin: false } };

export default defineConfig({
  oxc: { jsx: { runtime: "automatic" } },
  server: { host: "127.0.0.1", port: 5173, proxy },
  preview: { host: "127.0.0.1", port: 4173, proxy },
});
