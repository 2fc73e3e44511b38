import type { Knex } from "knex";
import { MigrationError } from "../errors.ts";

/**
 * The relay's member lane (adr/0013 "Member vouchers"): a request vouched for by the consortium's
 * member key is charged to lane `member`, budget key `member:0x…` (the voucher's signer).
 */
export async function up(db: Knex): Promise<void> {
  await db.raw("alter table relay_requests drop constraint relay_requests_lane");
  await db.raw(
    "alter table relay_requests add constraint relay_requests_lane check (lane in ('protective', 'linked', 'open', 'member'))",
  );
}

export async function down(): Promise<void> {
  throw new MigrationError("forward-only migrations");
}
