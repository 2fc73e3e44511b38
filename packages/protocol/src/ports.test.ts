import assert from "node:assert/strict";
import { createServer } from "node:net";
import { test } from "node:test";
import { freePort, freePorts } from "./ports.ts";

test("behavior: freePorts gives distinct ports that can be bound on 127.0.0.1", async () => {
  const ports = await freePorts(3);
  assert.equal(new Set(ports).size, 3);
  for (const port of [...ports, await freePort()]) {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    await new Promise<void>((r) => server.close(() => r()));
  }
});
