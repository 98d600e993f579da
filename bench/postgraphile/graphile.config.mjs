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
      // As many connections as this service's pool, kept open between runs.
      poolConfig: { max: Number(process.env.DB_MAX_CONNECTIONS ?? 10), idleTimeoutMillis: 0 },
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
