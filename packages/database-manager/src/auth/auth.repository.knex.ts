import type { Knex } from "knex";

/** Nonces and sessions (knex bindings only; times from the database clock unless given). */
export type AuthRepository = {
  insertNonce(nonce: string, ttlSeconds: number): Promise<void>;
  /** Marks the nonce used if it was issued here, is unexpired and unused: one atomic UPDATE. */
  consumeNonce(nonce: string): Promise<boolean>;
  insertSession(session: { tokenHash: string; address: string; expiresAt: Date }): Promise<void>;
  findSession(tokenHash: string): Promise<{ address: string; expiresAt: Date } | undefined>;
  deleteSession(tokenHash: string): Promise<void>;
  /** Removes expired nonces and sessions (they can no longer be used anyway). */
  purgeExpired(now: Date): Promise<void>;
};

export function authRepository(db: Knex): AuthRepository {
  return {
    async insertNonce(nonce, ttlSeconds) {
      await db("auth_nonces").insert({
        nonce,
        expires_at: db.raw("now() + make_interval(secs => ?)", [ttlSeconds]),
      });
    },

    async consumeNonce(nonce) {
      const rows = await db("auth_nonces")
        .update({ used_at: db.fn.now() })
        .where({ nonce })
        .whereNull("used_at")
        .andWhere("expires_at", ">", db.fn.now())
        .returning("nonce");
      return rows.length === 1;
    },

    async insertSession({ tokenHash, address, expiresAt }) {
      await db("auth_sessions").insert({ token_hash: tokenHash, address, expires_at: expiresAt });
    },

    async findSession(tokenHash) {
      const row = (await db("auth_sessions")
        .select("address", "expires_at")
        .where({ token_hash: tokenHash })
        .first()) as { address: string; expires_at: Date } | undefined;
      return row && { address: row.address, expiresAt: row.expires_at };
    },

    async deleteSession(tokenHash) {
      await db("auth_sessions").where({ token_hash: tokenHash }).delete();
    },

    async purgeExpired(now) {
      await db("auth_nonces").where("expires_at", "<", db.fn.now()).delete();
      await db("auth_sessions").where("expires_at", "<", now).delete();
    },
  };
}
