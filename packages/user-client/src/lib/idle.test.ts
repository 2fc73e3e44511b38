import { afterEach, describe, expect, test, vi } from "vitest";
import { IDLE_LOCK_MS, watchIdle } from "./idle.ts";

describe("idle lock", () => {
  afterEach(() => vi.useRealTimers());

  test("the wallet locks after 15 minutes", () => {
    expect(IDLE_LOCK_MS).toBe(15 * 60 * 1000);
  });

  test("onIdle runs once the time passes without activity; activity starts the count again; stop ends it", () => {
    vi.useFakeTimers();
    const target = new EventTarget();
    const onIdle = vi.fn();
    const stop = watchIdle(onIdle, 1000, target);
    vi.advanceTimersByTime(999);
    target.dispatchEvent(new Event("keydown"));
    vi.advanceTimersByTime(999);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(onIdle).toHaveBeenCalledTimes(1);
    stop();
    target.dispatchEvent(new Event("pointerdown"));
    vi.advanceTimersByTime(5000);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });
});
