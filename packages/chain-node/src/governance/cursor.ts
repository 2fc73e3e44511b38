/** The daemon's cursor file: parse, serialize, read, and write atomically. */
import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { type Address, getAddress, type Hex, isAddress } from "viem";
import { CursorFileError } from "./errors.ts";

/** The cursor: the last block whose signer events are fully processed. */
export type GovernanceCursor = {
  version: 1;
  chainId: number;
  registry: Address;
  block: bigint;
  /** Hash of `block` when it was processed: a different hash later means a reorg below the cursor. */
  blockHash?: Hex;
};

/** Parses and checks a cursor file's text. @throws {CursorFileError} */
export function parseCursor(
  text: string,
  { path, chainId, registry }: { path: string; chainId?: number; registry?: string },
): GovernanceCursor {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new CursorFileError({ path, problem: "not JSON", cause });
  }
  const c = raw as Record<string, unknown> | null;
  if (!c || typeof c !== "object" || Array.isArray(c))
    throw new CursorFileError({ path, problem: "not a JSON object" });
  if (c.version !== 1)
    throw new CursorFileError({ path, problem: `unknown version ${JSON.stringify(c.version)}` });
  if (typeof c.chainId !== "number" || !Number.isSafeInteger(c.chainId) || c.chainId <= 0)
    throw new CursorFileError({ path, problem: "chainId must be a positive integer" });
  if (typeof c.registry !== "string" || !isAddress(c.registry, { strict: false }))
    throw new CursorFileError({ path, problem: "registry must be an address" });
  if (typeof c.block !== "string" || !/^\d+$/.test(c.block))
    throw new CursorFileError({ path, problem: "block must be a decimal string" });
  if (
    c.blockHash !== undefined &&
    (typeof c.blockHash !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(c.blockHash))
  )
    throw new CursorFileError({ path, problem: "blockHash must be a 32-byte hex string" });
  if (chainId !== undefined && c.chainId !== chainId)
    throw new CursorFileError({
      path,
      problem: `it belongs to chain ${c.chainId}, the node is on chain ${chainId}`,
    });
  if (registry !== undefined && c.registry.toLowerCase() !== registry.toLowerCase())
    throw new CursorFileError({
      path,
      problem: `it belongs to registry ${getAddress(c.registry)}, not ${getAddress(registry)}`,
    });
  return {
    version: 1,
    chainId: c.chainId,
    registry: getAddress(c.registry),
    block: BigInt(c.block),
    ...(typeof c.blockHash === "string" ? { blockHash: c.blockHash as Hex } : {}),
  };
}

/** The cursor file's text. */
export function serializeCursor(cursor: GovernanceCursor): string {
  return `${JSON.stringify({ ...cursor, block: cursor.block.toString() }, null, 2)}\n`;
}

/** Reads a cursor file; `undefined` when it does not exist. @throws {CursorFileError} */
export async function readCursor(
  path: string,
  expect: { chainId?: number; registry?: string } = {},
): Promise<GovernanceCursor | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new CursorFileError({ path, problem: "cannot be read", cause });
  }
  return parseCursor(text, { path, ...expect });
}

/** Writes the cursor atomically: a temp file in the same directory, fsync, rename over the old one. */
export async function writeCursor(path: string, cursor: GovernanceCursor): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    const file = await open(tmp, "wx", 0o600);
    try {
      await file.writeFile(serializeCursor(cursor), "utf8");
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  } catch (cause) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw new CursorFileError({ path, problem: "cannot be written", cause });
  }
}
