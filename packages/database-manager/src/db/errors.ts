import { BaseError } from "@medrec/protocol";

/** Thrown when a migration is unknown or asked to go down (migrations are forward-only). */
export class MigrationError extends BaseError {
  override name = "MigrationError";
}

/** Thrown when the runtime role's name or password is malformed, or the role would not be separate from the owner. */
export class RuntimeRoleError extends BaseError {
  override name = "RuntimeRoleError";
}
