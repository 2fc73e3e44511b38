/**
 * Where the gatekeeper's time goes: the V8 CPU profiler of this process (the gatekeeper runs in
 * it) over one read window, through node:inspector (what `node --cpu-prof` records), summed into
 * self time by where the code lives: a package under node_modules, a file of ours, Node's own
 * internals, GC, idle. `selfTimeBy` is pure (tested).
 */
import { Session } from "node:inspector/promises";

/** The parts of a V8 `Profiler.Profile` this needs. */
export type CpuProfile = {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples: number[];
  timeDeltas: number[];
};

/** Where a call frame's code lives. */
export function placeOf(url: string, functionName: string): string {
  if (url === "")
    return functionName.startsWith("(") ? functionName : `native ${functionName || "(anonymous)"}`;
  const pkg = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  if (url.startsWith("node:")) return `node:${url.slice(5).split("/")[0]}`;
  const ours = /packages\/([^/]+)\/(.+)$/.exec(url);
  if (ours) return `${ours[1]}/${ours[2]}`;
  return url;
}

/** What a place does, for the summary: the groups the read path's time falls into. */
export function groupOf(place: string): string {
  if (place === "(idle)" || place === "node:inspector" || place === "(program)")
    return "waiting / the profiler itself (not attributed)";
  if (place === "(garbage collector)") return "garbage collection";
  if (
    /^native (writev|writeUtf8String|writeBuffer|writeLatin1String|write)$/.test(place) ||
    place === "node:_http_outgoing" ||
    place === "node:net"
  )
    return "socket writes (the response bytes)";
  if (
    ["knex", "pg", "pg-protocol", "tarn", "pg-pool", "pg-types", "postgres-array", "lodash"].includes(place)
  )
    return "PostgreSQL client (knex, pg)";
  if (
    [
      "express",
      "router",
      "helmet",
      "pino-http",
      "pino",
      "cors",
      "express-rate-limit",
      "body-parser",
      "qs",
      "prom-client",
      "on-finished",
      "finalhandler",
      "send",
      "content-type",
      "type-is",
      "mime-types",
      "negotiator",
      "accepts",
    ].includes(place) ||
    place.startsWith("node:_http")
  )
    return "HTTP framework (express, middleware, metrics)";
  if (place.startsWith("database-manager/") || place.startsWith("protocol/"))
    return "our code (gatekeeper, protocol)";
  if (place.startsWith("native ")) return "other native (JSON, crypto, buffers)";
  if (place.startsWith("node:")) return "Node internals (streams, timers)";
  return "other packages";
}

/** Self time (ms and % of the sampled time) by place, largest first; idle left out of the shares. */
export function selfTimeBy(
  profile: CpuProfile,
  top = 15,
): {
  busyMs: number;
  idleMs: number;
  groups: { group: string; ms: number; pct: number }[];
  places: { place: string; ms: number; pct: number }[];
} {
  const placeById = new Map(
    profile.nodes.map((n) => [n.id, placeOf(n.callFrame.url, n.callFrame.functionName)]),
  );
  const ms = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const place = placeById.get(id) ?? "(unknown)";
    ms.set(place, (ms.get(place) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  const idleMs = ms.get("(idle)") ?? 0;
  ms.delete("(idle)");
  const busyMs = [...ms.values()].reduce((a, b) => a + b, 0);
  const share = (t: number) => Math.round((1000 * t) / busyMs) / 10;
  const places = [...ms]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([place, t]) => ({ place, ms: Math.round(t), pct: share(t) }));
  const byGroup = new Map<string, number>();
  for (const [place, t] of ms) byGroup.set(groupOf(place), (byGroup.get(groupOf(place)) ?? 0) + t);
  const groups = [...byGroup]
    .sort((a, b) => b[1] - a[1])
    .map(([group, t]) => ({ group, ms: Math.round(t), pct: share(t) }));
  return { busyMs: Math.round(busyMs), idleMs: Math.round(idleMs), groups, places };
}

/** Profiles this process (the gatekeeper's main thread) while `fn` runs. */
export async function profiled<T>(fn: () => Promise<T>): Promise<{ result: T; profile: CpuProfile }> {
  const session = new Session();
  session.connect();
  try {
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: 1000 });
    await session.post("Profiler.start");
    const result = await fn();
    const { profile } = (await session.post("Profiler.stop")) as { profile: CpuProfile };
    return { result, profile };
  } finally {
    session.disconnect();
  }
}
