import { type AddressInfo, createServer, type Server } from "node:net";

/**
 * Returns `count` distinct TCP ports that are free on `host` right now (each found by binding
 * port 0). All listeners stay open until every port is chosen, so the ports differ.
 *
 * @example
 * const [p2p, http] = await freePorts(2)
 */
export async function freePorts(count: number, host = "127.0.0.1"): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, host, () => resolve());
      });
    }
    return servers.map((s) => (s.address() as AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** One TCP port free on `host` right now: `freePorts(1)`. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const [port] = await freePorts(1, host);
  return port as number;
}
