// PostGraphile 5 as bench/run.sh compares it: the Amber preset with simplified inflection, in
// production mode, without GraphiQL or explain, on DATABASE_URL's `public` schema.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import { makePgService } from "postgraphile/adaptors/pg";

export default {
  extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      // As many connections in all as this service's pool (shared by the worker processes),
      // kept open between runs.
      poolConfig: {
        max: Math.max(
          1,
          Math.ceil(Number(process.env.DB_MAX_CONNECTIONS ?? 10) / Number(process.env.WORKERS ?? 1)),
        ),
        idleTimeoutMillis: 0,
      },
    }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PORT ?? 5678),
    graphiql: false,
    graphqlOverGET: false,
  },
  grafast: { explain: false },
};
