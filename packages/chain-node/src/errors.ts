/**
 * chain-node's errors extend MedRec's one error base class (`@medrec/protocol`): `shortMessage` is
 * one sentence for a person, `message` adds meta lines (e.g. geth's last log lines) and details —
 * never a key or password.
 */
export { BaseError, type BaseErrorParameters } from "@medrec/protocol";
