import { createRequire } from "node:module";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import hardhatNodeTestRunner from "@nomicfoundation/hardhat-node-test-runner";
import hardhatViem from "@nomicfoundation/hardhat-viem";
import hardhatViemAssertions from "@nomicfoundation/hardhat-viem-assertions";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

// geth v1.13 Clique refuses Shanghai and later: the compiler targets Paris and the simulated chain
// runs the same fork (EDR calls it "merge").
const EVM = "paris";
const HARDFORK = "merge";

export default defineConfig({
  plugins: [hardhatViem, hardhatViemAssertions, hardhatNodeTestRunner, hardhatNetworkHelpers],
  solidity: {
    // Offline: the npm `solc` package's soljson, never a compiler download.
    version: "0.8.28",
    path: require.resolve("solc/soljson.js"),
    settings: {
      evmVersion: EVM,
      optimizer: { enabled: true, runs: 200 },
    },
  },
  networks: {
    default: { type: "edr-simulated", chainType: "l1", hardfork: HARDFORK },
  },
  paths: { tests: { nodejs: "test", solidity: "test" } },
});
