/** What reports/chain.json's figures mean and where the time goes (written from the measurements). */
export const CHAIN_NOTES: readonly string[] = [];
