import { defineConfig } from "vitest/config";

// Unit tests only (Node's WebCrypto is the browser's API); the browser tests are test/*.browser.test.ts.
export default defineConfig({
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
