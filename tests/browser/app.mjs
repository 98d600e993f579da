// The example frontend (examples/web), built, served as any static host would serve it, with
// `/graphql` passed on to the service: the same arrangement as its Vite dev server.
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer, request } from "node:http";
import { extname, join, normalize } from "node:path";

export const DIST = new URL("../../examples/web/dist/", import.meta.url).pathname;

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".css": "text/css",
  ".svg": "image/svg+xml",
};

/** Serves DIST on 127.0.0.1 and proxies /graphql to `api` (an origin). Resolves to `{ url, close() }`. */
export async function serveApp(api) {
  if (!existsSync(join(DIST, "index.html"))) {
    throw new Error(`${DIST} has no build: run \`npm run build\` in examples/web`);
  }
  const target = new URL(api);
  const server = createServer((req, res) => {
    if (req.url.startsWith("/graphql")) {
      const upstream = request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => {
        res.writeHead(502, { "content-type": "text/plain" });
        res.end("Bad Gateway: the service is not answering");
      });
      req.pipe(upstream);
      return;
    }
    let file = join(DIST, "index.html");
    try {
      const wanted = join(DIST, normalize(decodeURIComponent(new URL(req.url, "http://x").pathname)));
      if (wanted.startsWith(DIST) && existsSync(wanted) && !statSync(wanted).isDirectory()) file = wanted;
    } catch {
      // A malformed path gets the app, as an unknown one does.
    }
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
