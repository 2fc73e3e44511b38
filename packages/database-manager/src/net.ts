/**
 * Kept only for bench/gatekeeper.ts until it imports `freePort` from `@medrec/protocol/node` (the
 * one copy); nothing else may import this file.
 */
export { freePort } from "@medrec/protocol/node";
