import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { BaseError } from "./errors.ts";

class ExampleError extends BaseError {
  override name = "ExampleError";
}

describe("BaseError", () => {
  test("default", () => {
    const error = new BaseError("Something failed.");
    assert.equal(error.name, "BaseError");
    assert.equal(error.shortMessage, "Something failed.");
    assert.equal(error.message, "Something failed.");
    assert.equal(error.details, undefined);
    assert.ok(error instanceof Error);
  });

  test("behavior: details, meta messages and cause", () => {
    const cause = new Error("low-level");
    const error = new ExampleError("High level.", { cause, metaMessages: ["- hint"] });
    assert.equal(error.name, "ExampleError");
    assert.equal(error.cause, cause);
    assert.equal(error.details, "low-level");
    assert.equal(error.message, "High level.\n\n- hint\n\nDetails: low-level");
    assert.ok(error instanceof BaseError);
  });

  test("behavior: walk finds a cause", () => {
    const inner = new ExampleError("inner");
    const outer = new BaseError("outer", { cause: inner });
    assert.equal(
      outer.walk((e) => e instanceof ExampleError),
      inner,
    );
    assert.equal(outer.walk(), inner);
    assert.equal(
      outer.walk((e) => e instanceof TypeError),
      null,
    );
  });
});
