// Serves PostGraphile 5 (graphile.config.mjs) on PORT with WORKERS Node processes (default 1);
// with more than one, node:cluster shares the port between them.
import cluster from "node:cluster";
import { createServer } from "node:http";

const workers = Number(process.env.WORKERS ?? 1);

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", (_worker, code) => process.exit(code ?? 1));
} else {
  const { postgraphile } = await import("postgraphile");
  const { grafserv } = await import("postgraphile/grafserv/node");
  const preset = (await import("./graphile.config.mjs")).default;
  const serv = postgraphile(preset).createServ(grafserv);
  const server = createServer();
  serv.addTo(server);
  server.listen(preset.grafserv.port, preset.grafserv.host);
}
