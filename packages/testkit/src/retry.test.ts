import assert from "node:assert/strict";
import { test } from "node:test";
import { BaseError } from "@medrec/protocol";
import { EventuallyTimeoutError, eventually, retryWhile } from "./retry.ts";

test("default: eventually resolves with the first value other than undefined or false", async () => {
  const answers = [undefined, false, 0, 1];
  let calls = 0;
  assert.equal(await eventually("a number", () => answers[calls++], { intervalMs: 1 }), 0);
  assert.equal(calls, 3);
});

test("behavior: eventually retries what throws", async () => {
  let calls = 0;
  const value = await eventually(
    "the third call",
    () => {
      if (++calls < 3) throw new Error("not yet");
      return "ok";
    },
    { intervalMs: 1 },
  );
  assert.equal(value, "ok");
});

test("error: eventually gives up naming what it waited for, with the last error as cause", async () => {
  const last = new Error("still syncing");
  await assert.rejects(
    eventually(
      "the view",
      () => {
        throw last;
      },
      { timeoutMs: 0, intervalMs: 1 },
    ),
    (error: unknown) => {
      assert.ok(error instanceof EventuallyTimeoutError);
      assert.ok(error instanceof BaseError);
      assert.match(error.shortMessage, /waiting for the view/);
      assert.equal(error.cause, last);
      return true;
    },
  );
});

test("behavior: retryWhile retries only retryable errors and rethrows the others as they are", async () => {
  let calls = 0;
  const result = await retryWhile(
    async () => {
      if (++calls < 3) throw new Error("behind");
      return calls;
    },
    (e) => e instanceof Error && e.message === "behind",
    { intervalMs: 1 },
  );
  assert.equal(result, 3);
  const other = new Error("refused");
  await assert.rejects(
    retryWhile(
      async () => {
        throw other;
      },
      () => false,
    ),
    (e: unknown) => e === other,
  );
});
