/**
 * Extra geth flags for the benchmark, passed as `startNetwork({ extraArgs })`: transaction-pool room for a sustained backlog. geth 1.13's defaults (5,120 executable slots in
 * all, 16 guaranteed per account, 1,024 queued) would start evicting a few thousand pending grants
 * from two dozen senders; a grant (~470 B) takes one 32 KiB slot.
 */
export const TXPOOL_FLAGS = [
  "--txpool.globalslots",
  "50000",
  "--txpool.accountslots",
  "5000",
  "--txpool.globalqueue",
  "10000",
  "--txpool.accountqueue",
  "2000",
] as const;
