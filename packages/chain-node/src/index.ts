export { BaseError, type BaseErrorParameters } from "./errors.ts";
export * from "./genesis.ts";
export * from "./geth-binary.ts";
export * from "./geth-node.ts";
export * from "./ipc.ts";
export * from "./keys.ts";
export * from "./network.ts";
export { freePorts } from "./ports.ts";
export * from "./rpc.ts";
