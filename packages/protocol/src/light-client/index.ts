export {
  type CheckedHeader,
  checkCliqueHeader,
  cliqueSealHash,
  cliqueSigner,
  HeaderError,
  headerHash,
  type RpcHeader,
} from "./header.ts";
export * from "./layout.ts";
export { lyingAnswer, lyingBody, NODE_LIES, type NodeLie } from "./lies.ts";
export {
  type AcceptedHeader,
  createLightClient,
  type LightClient,
  LightClientError,
  type LightClientErrorCode,
  type LightClientParameters,
  type LightNode,
  type NodeFault,
} from "./light-client.ts";
export { ProofError, type RpcProof, slotKey, verifyStorageProof } from "./proof.ts";
