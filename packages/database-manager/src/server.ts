/**
 * `pnpm start` in this package: the gatekeeper as a process. Configuration from the environment
 * (see config.ts); SIGINT/SIGTERM shut it down gracefully.
 */
import { ConfigError, loadConfig } from "./config.ts";
import { startGatekeeper } from "./gatekeeper.ts";

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(
      `medrec gatekeeper: ${error.shortMessage}\n${error.problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    process.exit(2);
  }
  throw error;
}

const gatekeeper = await startGatekeeper({ config });
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void gatekeeper.stop().then(() => process.exit(0));
  });
}
