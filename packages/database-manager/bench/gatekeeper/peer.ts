/**
 * The peer: HAPI FHIR's plain RestfulServer (bench/peer/PeerServer.java, bench/peer/pom.xml)
 * serving the same resources from memory on Jetty, on this machine's Java 17, built by testkit's
 * `buildJavaTool` into the cache (`bench-peer-<hash>`, outside the repository) once. `startPeer` resolves to why it could not
 * run instead of throwing, so the report can say so.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "@medrec/protocol/node";
import { buildJavaTool } from "@medrec/testkit/java";

const SOURCE = join(dirname(fileURLToPath(import.meta.url)), "..", "peer");

/** Resolves the class path and compiles PeerServer once; returns the java class path. */
const build = () => buildJavaTool({ name: "bench-peer", folder: SOURCE, source: "PeerServer.java" });

export type Peer = { url: string; version: string; stop(): Promise<void> };

/** Starts the peer on 127.0.0.1 serving `bundle` (a FHIR Bundle holding one Patient); or says why not. */
export async function startPeer(work: string, bundle: unknown): Promise<Peer | { unavailable: string }> {
  let classPath: string;
  try {
    classPath = await build();
  } catch (error) {
    return { unavailable: `could not build the HAPI FHIR peer: ${(error as Error).message}` };
  }
  const file = join(work, "peer-bundle.json");
  await writeFile(file, JSON.stringify(bundle));
  const port = await freePort();
  const child: ChildProcess = spawn(
    "java",
    ["-Xmx1g", "-XX:+UseParallelGC", "-cp", classPath, "PeerServer", String(port), file],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /listening \d+ patient (\S+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.stderr?.on("data", (c: Buffer) => (out = (out + c.toString()).slice(-4000)));
    child.on("exit", (code) => reject(new Error(`the peer exited (${code}): ${out.trim().slice(-1000)}`)));
    setTimeout(() => reject(new Error("the peer did not listen within 60 s")), 60_000).unref();
  });
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
  };
  try {
    const patientId = await ready;
    const pom = await readFile(join(SOURCE, "pom.xml"), "utf8");
    const version = /<hapi\.version>([^<]+)</.exec(pom)?.[1] ?? "?";
    return { url: `http://127.0.0.1:${port}/fhir/Patient/${patientId}/$everything`, version, stop };
  } catch (error) {
    await stop();
    return { unavailable: `the HAPI FHIR peer did not start: ${(error as Error).message}` };
  }
}
