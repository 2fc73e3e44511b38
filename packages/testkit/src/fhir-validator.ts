/**
 * FHIR R4 validation by a tool nobody here wrote: HAPI FHIR's `FhirInstanceValidator` with the R4
 * core definitions (fhir-validator/FhirValidate.java and pom.xml), built by `buildJavaTool` into
 * `$MEDREC_CACHE` (else `~/.cache/medrec`) `/fhir-validator-<hash>/`, never into the repository.
 * One JVM loads the definitions once (about 20 s on two cores) and validates any number of
 * documents, one at a time, in the order asked. Needs Java ≥ 17 and Maven.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { buildJavaTool } from "./java.ts";

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), "..", "fhir-validator");

/** One message of HAPI's validator, as it gave it. */
export type FhirIssue = {
  severity: "fatal" | "error" | "warning" | "information";
  /** FHIRPath-like element path, e.g. `Bundle.entry[3].resource/*Observation/o1*‍/.code`. */
  location: string;
  line: number | null;
  column: number | null;
  messageId: string | null;
  message: string;
};

export type FhirValidator = {
  /** Validates one document (a resource as an object or as JSON text); resolves to every issue. */
  validate(document: unknown): Promise<FhirIssue[]>;
  /** Validates a JSON file as it is on disk (the JVM reads it). */
  validateFile(path: string): Promise<FhirIssue[]>;
  /** Stops the JVM. */
  stop(): Promise<void>;
};

/** Resolves the class path and compiles the validator once; returns the java class path. */
export function buildFhirValidator(): Promise<string> {
  return buildJavaTool({ name: "fhir-validator", folder: SOURCE, source: "FhirValidate.java" });
}

/** Builds the validator when needed and starts one JVM; resolves once it has validated a warm-up resource. */
export async function startFhirValidator(): Promise<FhirValidator> {
  const cp = await buildFhirValidator();
  const child: ChildProcess = spawn("java", ["-Xss4m", "-cp", cp, "FhirValidate"], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const waiting: { resolve: (issues: FhirIssue[]) => void; reject: (e: Error) => void }[] = [];
  let ready: (() => void) | undefined;
  let exited: Error | undefined;
  const started = new Promise<void>((resolve, reject) => {
    ready = resolve;
    child.once("exit", (code) => {
      exited = new Error(`the FHIR validator exited (${code}): ${stderr.trim()}`);
      reject(exited);
      for (const w of waiting.splice(0)) w.reject(exited);
    });
    child.once("error", reject);
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  lines.on("line", (line) => {
    const answer = JSON.parse(line) as { ready?: true; issues?: FhirIssue[]; failure?: string };
    if (answer.ready) return ready?.();
    const next = waiting.shift();
    if (!next) return;
    if (answer.failure)
      next.reject(new Error(`the FHIR validator could not read the document: ${answer.failure}`));
    else next.resolve(answer.issues ?? []);
  });
  await started;
  const ask = (line: string) =>
    exited
      ? Promise.reject(exited)
      : new Promise<FhirIssue[]>((resolve, reject) => {
          waiting.push({ resolve, reject });
          child.stdin?.write(`${line}\n`);
        });
  return {
    // JSON.stringify never writes a raw line break: one document per line.
    validate: (document) =>
      ask(typeof document === "string" ? JSON.stringify(JSON.parse(document)) : JSON.stringify(document)),
    validateFile: (path) => ask(path),
    async stop() {
      if (exited || child.exitCode !== null) return;
      const gone = new Promise((resolve) => child.once("exit", resolve));
      child.stdin?.end();
      await gone;
    },
  };
}

/** The issues that are errors (`error` or `fatal`). */
export const fhirErrors = (issues: readonly FhirIssue[]): FhirIssue[] =>
  issues.filter((i) => i.severity === "error" || i.severity === "fatal");

/** A readable list of the first `limit` issues, one a line: severity, element path, message. */
export function describeFhirIssues(issues: readonly FhirIssue[], limit = 10): string {
  const shown = issues
    .slice(0, limit)
    .map((i) => `  ${i.severity} at ${i.location}: ${i.message}${i.messageId ? ` [${i.messageId}]` : ""}`);
  const more = issues.length > limit ? [`  … and ${issues.length - limit} more`] : [];
  return [...shown, ...more].join("\n");
}
