// Reads the service's SQLite file directly, with Debian's sqlite3: the rows a test checks are the
// database's, not what the API says about them.
import { execFileSync } from "node:child_process";

export function rows(database, sql) {
  const out = execFileSync("sqlite3", ["-readonly", "-json", database, sql], { encoding: "utf8" });
  return out.trim() === "" ? [] : JSON.parse(out);
}
