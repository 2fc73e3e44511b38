import { createServer } from "node:http";
import type { RequestHandler } from "express";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** This gatekeeper's Prometheus registry (its own, not prom-client's global one). */
export type Metrics = {
  registry: Registry;
  httpDuration: Histogram<"method" | "route" | "status">;
  accessDecisions: Counter<"decision">;
  /** Refused reads of relationships this provider does not hold: counted here, not audited per request. */
  unheldDenials: Counter<"action">;
  /** Refused reads answered 429 because the caller exceeded AUDIT_DENIALS_PER_MINUTE. */
  denialsRateLimited: Counter<"action">;
  /** POST /v1/relay answers: `relayed`, `repeated`, `rate-limited`, or the refusing check's name. */
  relayRequests: Counter<"outcome">;
  /** This provider's own forward requests (delegates), by the relay that took them: `peer` or `own`. */
  relaySubmissions: Counter<"via">;
};

/**
 * `medrec_relayer_balance_wei`: the relayer's balance, read from the node at each scrape (absent
 * while the node does not answer).
 */
export function registerRelayerBalance(metrics: Metrics, read: () => Promise<bigint>): void {
  new Gauge({
    name: "medrec_relayer_balance_wei",
    help: "Balance of this gatekeeper's relayer account (pays the gas of POST /v1/relay), in wei",
    registers: [metrics.registry],
    async collect() {
      try {
        this.set(Number(await read()));
      } catch {
        this.reset();
      }
    },
  });
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpDuration: new Histogram({
      name: "medrec_http_request_duration_seconds",
      help: "HTTP request duration by route template (never the raw path: it can hold ids)",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    accessDecisions: new Counter({
      name: "medrec_access_decisions_total",
      help: "Record access decisions, allowed or denied",
      labelNames: ["decision"],
      registers: [registry],
    }),
    unheldDenials: new Counter({
      name: "medrec_access_unheld_denials_total",
      help: "Refused reads of relationships this provider does not hold (not appended to the audit log)",
      labelNames: ["action"],
      registers: [registry],
    }),
    denialsRateLimited: new Counter({
      name: "medrec_access_denials_rate_limited_total",
      help: "Refused reads answered 429: the caller exceeded its denials per minute",
      labelNames: ["action"],
      registers: [registry],
    }),
    relayRequests: new Counter({
      name: "medrec_relay_requests_total",
      help: "POST /v1/relay answers by outcome: relayed, repeated, rate-limited, or the check that refused",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    relaySubmissions: new Counter({
      name: "medrec_relay_own_submissions_total",
      help: "This provider's own forward requests by the relay that took them: peer (another provider's) or own",
      labelNames: ["via"],
      registers: [registry],
    }),
  };
}

/** Times every request under its matched route template (`unmatched` for 404s). */
export function metricsMiddleware(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpDuration.startTimer();
    res.on("finish", () => {
      const route = req.route?.path ? `${req.baseUrl}${String(req.route.path)}` : "unmatched";
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}

/** The metrics listener: where it listens (`http://127.0.0.1:9464/metrics`) and how to stop it. */
export type MetricsServer = { url: string; close(): Promise<void> };

/**
 * Serves `GET /metrics` (Prometheus text) on a listener of its own — METRICS_HOST:METRICS_PORT,
 * loopback by default — and nothing else (404). Never on the public app: the relay's and the
 * access counters tell how many patients this provider serves (adr/0017).
 */
export async function startMetricsServer(
  metrics: Metrics,
  { host, port }: { host: string; port: number },
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8" }).end("Not found: GET /metrics\n");
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { "Content-Type": metrics.registry.contentType }).end(text),
      () => res.writeHead(500, { "Content-Type": "text/plain; charset=utf-8" }).end("metrics failed\n"),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  const bound = typeof address === "object" && address ? address.port : port;
  const shown = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
