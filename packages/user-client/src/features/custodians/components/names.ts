import { type RecoveryState, shortAddress } from "@medrec/protocol/patient";
import type { Address } from "viem";
import { contactName, useContacts } from "../../../lib/contacts.ts";

/** A person by the name the patient saved, else "ID 0x1234…abcd". */
export function useName(): (address: Address) => string {
  const { contacts } = useContacts();
  return (address: Address) => contactName(contacts, address) ?? `ID ${shortAddress(address)}`;
}

/** "Dad and Aunt Rosa asked to move your records to another wallet (ID 0x12…)." */
export function pendingTitle(
  pending: NonNullable<RecoveryState["pending"]>,
  name: (address: Address) => string,
): string {
  const by = pending.approvedBy.map(name);
  const who =
    by.length === 0
      ? "Your custodians"
      : by.length === 1
        ? by[0]
        : `${by.slice(0, -1).join(", ")} and ${by.at(-1)}`;
  return `${who} asked to move your records to another wallet (${name(pending.newOwner)}).`;
}
