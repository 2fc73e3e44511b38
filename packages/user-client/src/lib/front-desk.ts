/**
 * A patient's address in a form a person can read aloud and compare: the 40 hex digits in ten
 * groups of four, and a check word. The check word is the BIP-39 English word at the index given
 * by the first 11 bits of keccak256 of the lower-case address (without 0x) — any tool with the
 * address computes the same word, so a front desk that typed or scanned the address can confirm
 * it in one word before linking the patient.
 */
import { wordlist } from "@scure/bip39/wordlists/english";
import { getAddress, keccak256, toBytes } from "viem";

export type FrontDeskCode = { groups: string[]; checkWord: string; address: string };

export function frontDeskCode(address: string): FrontDeskCode {
  const checksummed = getAddress(address);
  const hex = checksummed.slice(2);
  const groups = hex.match(/.{4}/g) ?? [];
  const digest = toBytes(keccak256(toBytes(hex.toLowerCase())));
  const index = (((digest[0] ?? 0) << 8) | (digest[1] ?? 0)) >> 5;
  return { groups, checkWord: wordlist[index] ?? "", address: checksummed };
}
