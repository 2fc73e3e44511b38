/**
 * A process that starts a temporary one-sealer network and never stops it, for leftovers.int.test:
 * prints `{"dir", "pids"}` on one line, then with `exit` ends at once (process.exit), with `wait`
 * waits to be signalled. Whatever it leaves behind is the launcher's to clean up.
 */
import { startNetwork } from "../../src/index.ts";

const mode = process.argv[2];
const network = await startNetwork({ sealers: 1, periodSeconds: 1, scrypt: "light" });
const pids = network.nodes.flatMap((n) => [n.sealer.pid, n.rpc.pid]);
process.stdout.write(`${JSON.stringify({ dir: network.dir, pids })}\n`);
if (mode === "exit") process.exit(3);
setInterval(() => undefined, 60_000);
