import { z } from "zod";
import { toChecksumAddress } from "./keys.ts";
import { isScopeCode, type ScopeCode } from "./scopes.ts";

const ADDRESS_REGEX = /^0[xX][0-9a-fA-F]{40}$/;
const BYTES32_REGEX = /^0x[0-9a-fA-F]{64}$/;

/** An address in any case, output EIP-55 checksummed. */
export const addressSchema = z
  .string()
  .regex(ADDRESS_REGEX, "Invalid address: expected 0x followed by 40 hex digits")
  .transform((value) => toChecksumAddress(value));

/** A bytes32 (relationship id, record root, hash): `0x` + 64 hex digits, output lower case. */
export const bytes32Schema = z
  .string()
  .regex(BYTES32_REGEX, "Invalid bytes32: expected 0x followed by 64 hex digits")
  .transform((value) => value.toLowerCase() as `0x${string}`);

/** A signature: `0x` + 64 or 65 bytes of hex. */
export const signatureSchema = z
  .string()
  .regex(
    /^0x[0-9a-fA-F]{128}(?:[0-9a-fA-F]{2})?$/,
    "Invalid signature: expected 0x followed by 65 bytes of hex",
  )
  .transform((value) => value as `0x${string}`);

/** An `http:` or `https:` URL. */
export const httpUrlSchema = z.url({ protocol: /^https?$/, message: "Invalid URL: expected http(s)://…" });

/** A JSON-RPC endpoint: `http(s)://` or `ws(s)://`. */
export const rpcUrlSchema = z.url({
  protocol: /^(?:https?|wss?)$/,
  message: "Invalid RPC URL: expected http(s):// or ws(s)://",
});

/** An ISO 8601 / RFC 3339 date-time with a time zone, e.g. `2025-06-01T12:00:00.000Z`. */
export const dateTimeSchema = z.iso.datetime({ offset: true });

/** A scope code from the docs/protocol.md table. */
export const scopeCodeSchema = z
  .string()
  .refine(isScopeCode, { message: "Unknown scope code" })
  .transform((value) => value as ScopeCode);
