import { randomUUID } from "node:crypto";
import cors from "cors";
import express, { type Express, type NextFunction, type Request, type Response, type Router } from "express";
import { rateLimit } from "express-rate-limit";
import helmet from "helmet";
import type { Logger } from "pino";
import { pinoHttp } from "pino-http";
import type { Config } from "./config.ts";
import { notFoundHandler, ProblemError, problem, problemHandler, sendProblem } from "./errors.ts";
import { type HealthCheck, healthHandler } from "./ops/health.ts";
import { exceedsDepth } from "./ops/json-depth.ts";
import { type Metrics, metricsMiddleware } from "./ops/metrics.ts";
import { buildOpenApi, type OpenApiPaths, opsPaths } from "./ops/openapi.ts";
import { isStreamedUpload, UPLOAD_LIMITS_LOCAL, type UploadLimits } from "./records/upload.ts";

/** A slice of the API: its routes and their OpenAPI paths (every route must be documented). */
export type AppModule = { router: Router; paths: OpenApiPaths };

/** Explicit dependencies of the app: no container. */
export type AppDependencies = {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  health: readonly HealthCheck[];
  modules?: readonly AppModule[];
};

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

type RoutedRequest = { route?: { path?: unknown }; baseUrl?: string };

/**
 * The path segments a log line may name: the literal segments of every documented path
 * (`/v1/patients/{mrn}/records` → `v1`, `patients`, `records`), so the list follows the routes.
 */
export function routeSegments(paths: readonly OpenApiPaths[]): ReadonlySet<string> {
  const segments = new Set([""]);
  for (const documented of paths)
    for (const path of Object.keys(documented))
      for (const segment of path.split("/")) if (!/^\{[^}]*\}$/.test(segment)) segments.add(segment);
  return segments;
}

/**
 * What a log line says of the request's path: the matched route template
 * (`/v1/patients/:mrn/records`), or for unmatched requests the path with every segment that is
 * not one of `known` ({@link routeSegments}) replaced, so no identifier a client sent ends up in
 * the logs.
 */
export function routeOf(raw: RoutedRequest | undefined, url: string, known: ReadonlySet<string>): string {
  const template = raw?.route?.path;
  if (typeof template === "string") return `${raw?.baseUrl ?? ""}${template}`;
  const path = url.split("?")[0] ?? "";
  return path
    .split("/")
    .map((s) => (known.has(s) ? s : ":id"))
    .join("/");
}

/** The gatekeeper's express app. */
export function createApp({ config, logger, metrics, health, modules = [] }: AppDependencies): Express {
  const app = express();
  const paths = [opsPaths, ...modules.map((m) => m.paths)];
  const known = routeSegments(paths);
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  // Behind a TLS proxy: X-Forwarded-For names the client only when the request comes from one
  // of the proxy's own addresses (never `true`: anyone could then pick their rate-limit key).
  app.set("trust proxy", config.TRUST_PROXY.length > 0 ? config.TRUST_PROXY : false);

  app.use(
    pinoHttp({
      logger,
      // A caller's id is kept when it is harmless; otherwise a fresh one.
      genReqId: (req, res) => {
        const given = req.headers["x-request-id"];
        const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
        res.setHeader("X-Request-Id", id);
        return id;
      },
      // Method, route and status only: no headers (tokens), no bodies, no query, and no identifiers
      // from the path (an MRN is PHI). pino-http binds the request before routing, so this is
      // usually the path with its identifiers replaced.
      serializers: {
        req: (req: { id: unknown; method: string; url: string; raw?: RoutedRequest }) => ({
          id: req.id,
          method: req.method,
          route: routeOf(req.raw, req.url, known),
        }),
        res: (res: { statusCode: number }) => ({ status: res.statusCode }),
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? "error" : "info"),
    }),
  );
  app.use(helmet());
  app.use(
    cors({
      // Bearer tokens, never cookies: no credentials, and only listed origins.
      origin: config.CORS_ORIGINS,
      credentials: false,
      // `Link` carries the next page of records and of the audit log: a browser sees only exposed headers.
      exposedHeaders: ["X-Request-Id", "Link"],
    }),
  );
  app.use(
    rateLimit({
      windowMs: 60_000,
      limit: config.RATE_LIMIT_PER_MINUTE,
      standardHeaders: "draft-8",
      legacyHeaders: false,
      handler: (_req, res) => sendProblem(res, problem("too-many-requests", "Too many requests; slow down.")),
    }),
  );
  app.use(metricsMiddleware(metrics));
  const json = express.json({
    limit: config.BODY_LIMIT_BYTES,
    type: ["application/json", "application/fhir+json", "application/*+json"],
  });
  const recordsLimit = config.RECORDS_UPLOAD_LIMIT_BYTES;
  app.use((req, res, next) => {
    // Staff record uploads are read as a stream by the records module, within their own limit.
    if (isStreamedUpload(req)) {
      const limits: UploadLimits = {
        maxBytes: config.RECORDS_UPLOAD_LIMIT_BYTES,
        maxResources: config.RECORDS_UPLOAD_MAX_RESOURCES,
        maxDepth: config.JSON_MAX_DEPTH,
      };
      res.locals[UPLOAD_LIMITS_LOCAL] = limits;
      next();
      return;
    }
    json(req, res, (error?: unknown) => {
      if ((error as { type?: string } | undefined)?.type === "entity.too.large") {
        next(
          new ProblemError(
            "payload-too-large",
            `The request body is larger than the ${config.BODY_LIMIT_BYTES} bytes this gatekeeper accepts here (BODY_LIMIT_BYTES). Records go to POST /v1/patients/{mrn}/records, which reads up to ${recordsLimit} bytes (RECORDS_UPLOAD_LIMIT_BYTES) as a stream, as a Bundle or as NDJSON (application/fhir+ndjson).`,
          ),
        );
        return;
      }
      next(error);
    });
  });
  app.use((req, _res, next) => {
    if (req.body !== undefined && exceedsDepth(req.body, config.JSON_MAX_DEPTH)) {
      next(
        new ProblemError("bad-request", `The JSON body nests deeper than ${config.JSON_MAX_DEPTH} levels.`),
      );
      return;
    }
    next();
  });

  const openapi = buildOpenApi({ publicUrl: config.PUBLIC_URL, paths: modules.map((m) => m.paths) });
  app.get("/healthz", healthHandler(health));
  // No /metrics here: the metrics have their own listener (ops/metrics.ts, adr/0017).
  app.get("/openapi.json", (_req, res) => {
    res.json(openapi);
  });
  for (const module of modules) app.use(module.router);

  app.use(notFoundHandler);
  const onError = problemHandler(logger);
  app.use(onError);
  // The router skips every layer for a target it cannot parse (`GET http://[::1/`) and hands it to
  // Express's final handler, which answers HTML: here it gets the problem+json of an unknown path.
  // (`handle` is Express's own entry point, called with no `next` by node:http; not in its types.)
  const routed = app as Express & { handle: (req: Request, res: Response, next?: NextFunction) => void };
  const handle = routed.handle.bind(app);
  routed.handle = (req, res, next) =>
    handle(
      req,
      res,
      next ??
        ((error?: unknown) =>
          error ? onError(error, req, res, () => undefined) : notFoundHandler(req, res, () => undefined)),
    );
  return app;
}
