/**
 * The limit: the same bundle bytes for the same patient, served from the same PostgreSQL by a bare
 * node:http handler — no sign-in, no permission check, no audit, no proof building. Each request
 * runs one SELECT of the stored bytes (a bench-only table) through a pg pool as large as the
 * gatekeeper's and writes them with Content-Length. What our gatekeeper adds is everything else.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Knex } from "knex";
import pg from "pg";

const TABLE = "bench_bare_bundle";

export async function startBareServer(db: Knex, dbUrl: string, bundles: Map<string, string>, poolMax = 10) {
  await db.raw(`create table if not exists ${TABLE} (relationship text primary key, body bytea not null)`);
  for (const [relationship, body] of bundles)
    await db.raw(
      `insert into ${TABLE} (relationship, body) values (?, ?) on conflict (relationship) do update set body = excluded.body`,
      [relationship, Buffer.from(body, "utf8")],
    );
  const pool = new pg.Pool({ connectionString: dbUrl, max: poolMax });
  const server = createServer((req, res) => {
    const relationship = /^\/bare\/([0-9a-fx]+)$/i.exec(req.url ?? "")?.[1]?.toLowerCase();
    if (!relationship) {
      res.writeHead(404).end();
      return;
    }
    pool.query<{ body: Buffer }>(`select body from ${TABLE} where relationship = $1`, [relationship]).then(
      ({ rows }) => {
        const body = rows[0]?.body;
        if (!body) return void res.writeHead(404).end();
        res.writeHead(200, { "content-type": "application/fhir+json", "content-length": body.length });
        res.end(body);
      },
      () => void res.writeHead(500).end(),
    );
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (relationship: string) => `http://127.0.0.1:${port}/bare/${relationship.toLowerCase()}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await pool.end();
    },
  };
}
