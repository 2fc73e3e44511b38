/** Parameters shared by every MedRec error. */
export type BaseErrorParameters = {
  /** The underlying error, if any. */
  cause?: unknown;
  /** One line of technical detail (never record contents or secrets). */
  details?: string | undefined;
  /** Extra lines shown under the short message. */
  metaMessages?: readonly string[] | undefined;
};

/**
 * The one error base class of `@medrec/protocol`; every error thrown by this package extends it.
 *
 * `shortMessage` is a single sentence fit for a person; `message` adds the meta lines and details.
 *
 * @example
 * try { parseScope("genome") } catch (e) { if (e instanceof BaseError) console.log(e.shortMessage) }
 */
export class BaseError extends Error {
  override name = "BaseError";
  /** One sentence describing the failure. */
  readonly shortMessage: string;
  /** Technical detail, usually the message of `cause`. */
  readonly details: string | undefined;
  /** Extra explanatory lines. */
  readonly metaMessages: readonly string[] | undefined;

  constructor(shortMessage: string, parameters: BaseErrorParameters = {}) {
    const details =
      parameters.details ??
      (parameters.cause instanceof BaseError
        ? parameters.cause.details
        : parameters.cause instanceof Error
          ? parameters.cause.message
          : undefined);
    const message = [
      shortMessage || "An error occurred.",
      ...(parameters.metaMessages?.length ? ["", ...parameters.metaMessages] : []),
      ...(details ? ["", `Details: ${details}`] : []),
    ].join("\n");
    super(message, parameters.cause === undefined ? undefined : { cause: parameters.cause });
    this.shortMessage = shortMessage;
    this.details = details;
    this.metaMessages = parameters.metaMessages;
  }

  /** Walks the `cause` chain and returns the first error for which `fn` holds (or the last one). */
  walk(fn?: (error: unknown) => boolean): unknown {
    let error: unknown = this;
    while (error instanceof Error) {
      if (fn?.(error)) return error;
      if (error.cause === undefined) return fn ? null : error;
      error = error.cause;
    }
    return fn ? (fn(error) ? error : null) : error;
  }
}
