import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The dapp is static files; `server.ts` serves them with the network's public configuration.
export default defineConfig({
  plugins: [react()],
  build: {
    target: "es2022",
    // Source maps would publish the source next to the app; the tests read the bundle as built.
    sourcemap: false,
    // The entry chunk (React, viem, zod, the protocol) is ~820 KB raw, ~250 KB gzip: the budget is 300 KB gzip.
    chunkSizeWarningLimit: 900,
  },
});
