/** Calls `onIdle` after `ms` without user activity; activity restarts the count. Returns a stop function. */
export function watchIdle(
  onIdle: () => void,
  ms: number,
  target: Pick<Window, "addEventListener" | "removeEventListener"> = window,
): () => void {
  const events = ["pointerdown", "keydown", "wheel", "touchstart", "scroll"] as const;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const reset = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(onIdle, ms);
  };
  for (const name of events) target.addEventListener(name, reset, { passive: true });
  reset();
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    for (const name of events) target.removeEventListener(name, reset);
  };
}

/** The wallet locks after this long without activity. */
export const IDLE_LOCK_MS = 15 * 60 * 1000;
