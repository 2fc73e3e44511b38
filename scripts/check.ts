/**
 * A black-box check of a running MedRec network that reads only the network manifest and speaks
 * only the protocol (docs/protocol.md): for every RPC endpoint, nothing can sign with a provider
 * key; for every provider, the demo patient signs in, reads records whose every proof verifies
 * against the root on chain, a stranger and an out-of-scope viewer are refused with the same 403,
 * staff routes refuse non-staff, and the patient's audit shows it, chained — the viewer's refusal as
 * an entry of its own, the stranger's only counted (one entry per relationship and hour, adr/0014).
 *
 * `./medrec run check` (against `./medrec start`), and the system test. Exits 1 naming each failure.
 */

import { probeSigningSurface } from "@medrec/chain-node";
import {
  type AuditHeadResponse,
  accountFromMnemonic,
  apiPaths,
  auditAnchorAbi,
  fetchAuditConsistencyProof,
  fetchAuditEntries,
  fetchVerifiedRecords,
  findAuditChainBreak,
  GatekeeperRequestError,
  gatekeeperJson,
  readAnchoredHeads,
  relationshipAbi,
  resourceCategories,
  signIn,
  verifyAuditEntries,
} from "@medrec/protocol";
import { type NetworkManifest, readManifest } from "@medrec/protocol/node";
import { createPublicClient, type Hex, http, isAddressEqual } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** How long a provider's chain view may take to show a grant confirmed on another node. */
const VIEW_CATCH_UP_MS = 20_000;

export type CheckResult = { name: string; ok: boolean; detail?: string };

type Bundle = { resourceType: string; entry?: { resource: unknown }[] };
type AuditList = { action: string; decision: string; actor: string; hash: string; prevHash: string }[];

async function status(run: () => Promise<unknown>): Promise<number> {
  try {
    await run();
    return 200;
  } catch (error) {
    if (error instanceof GatekeeperRequestError) return error.status;
    throw error;
  }
}

/** Runs every check; never throws for a failed check (it is a result), only for a broken manifest. */
export async function checkNetwork(manifest: NetworkManifest): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const check = async (name: string, run: () => Promise<string | undefined>) => {
    try {
      const detail = await run();
      results.push({ name, ok: true, ...(detail ? { detail } : {}) });
    } catch (error) {
      results.push({ name, ok: false, detail: error instanceof Error ? error.message : String(error) });
    }
  };
  const demo = manifest.demo;
  assert(demo, "the manifest has no demo section");
  const chainId = manifest.chainId;
  const client = createPublicClient({ transport: http(manifest.rpcUrl) });
  const relationshipContract = manifest.contracts.Relationship as Hex | undefined;
  assert(relationshipContract, "the manifest names no Relationship contract");
  const patient = accountFromMnemonic(demo.patientMnemonic, 0);
  const viewerMnemonic = (demo as { viewerMnemonic?: string }).viewerMnemonic;
  const viewer = viewerMnemonic ? accountFromMnemonic(viewerMnemonic, 0) : undefined;
  const grantAt = new Set((demo as { viewerGrant?: { providers?: string[] } }).viewerGrant?.providers ?? []);
  const stranger = privateKeyToAccount(generatePrivateKey());
  const providerAccounts = manifest.providers.map((x) => x.account);

  const endpoints = new Set([
    manifest.rpcUrl,
    ...manifest.providers.flatMap((x) => [x.rpcUrl, ...(typeof x.wsUrl === "string" ? [x.wsUrl] : [])]),
  ]);
  for (const url of endpoints)
    await check(`RPC ${url}: no provider key can be used`, async () => {
      const probe = await probeSigningSurface(url, { addresses: providerAccounts });
      assert(probe.ok, probe.violations.join("; "));
      return undefined;
    });

  // The family member's checks are not optional: a manifest without them fails here, not silently.
  await check("the demo has a family member with a grant at a listed provider", async () => {
    assert(viewer, "demo.viewerMnemonic is missing");
    const names = new Set(manifest.providers.map((x) => x.name));
    assert(grantAt.size > 0, "demo.viewerGrant.providers is empty");
    for (const name of grantAt) assert(names.has(name), `demo.viewerGrant names "${name}", not a provider`);
    return `granted at ${[...grantAt].join(", ")}`;
  });

  for (const provider of manifest.providers) {
    const gk = provider.gatekeeperUrl;
    const label = provider.name;
    await check(`${label}: healthy`, async () => {
      const response = await fetch(`${gk}${apiPaths.healthz}`);
      assert(response.status === 200, `/healthz answered ${response.status}`);
      return undefined;
    });

    let relationship: Hex | undefined;
    let patientToken: string | undefined;
    await check(`${label}: the patient signs in and verifies every record against the chain`, async () => {
      ({ token: patientToken } = await signIn({ gatekeeperUrl: gk, account: patient, chainId }));
      const listed = await gatekeeperJson<{ relationship: Hex; role: string }[]>(gk, apiPaths.relationships, {
        token: patientToken,
      });
      const mine = listed.filter((r) => r.role === "patient");
      assert(mine.length === 1, `expected one relationship as patient, got ${mine.length}`);
      relationship = mine[0]?.relationship;
      assert(relationship, "no relationship");
      const id = relationship;
      const read = await fetchVerifiedRecords({
        gatekeeperUrl: gk,
        relationship: id,
        token: patientToken,
        onChainRoot: async () =>
          (
            await client.readContract({
              address: relationshipContract,
              abi: relationshipAbi,
              functionName: "relationshipOf",
              args: [id],
            })
          ).recordRoot,
      });
      assert(read.valid, read.failures.map((f) => `${f.reason} ${f.resource ?? ""}`).join("; "));
      assert(read.resources.length > 0 && read.resources.length === read.total, "not every record was read");
      return `${read.resources.length} records in ${read.pages} page(s) verified against root ${read.onChainRoot.slice(0, 10)}…`;
    });

    await check(
      `${label}: a stranger gets the same 403 for this and for an unknown relationship`,
      async () => {
        assert(relationship, "no relationship to ask for");
        const { token } = await signIn({ gatekeeperUrl: gk, account: stranger, chainId });
        const known = await status(() =>
          gatekeeperJson(gk, apiPaths.records(relationship as Hex), { token }),
        );
        const unknown = await status(() =>
          gatekeeperJson(gk, apiPaths.records(`0x${"ab".repeat(32)}`), { token }),
        );
        assert(known === 403 && unknown === 403, `answers ${known} and ${unknown}`);
        const audit = await status(() => gatekeeperJson(gk, apiPaths.audit(relationship as Hex), { token }));
        assert(audit === 403, `a stranger's audit request answered ${audit}`);
        return undefined;
      },
    );

    await check(`${label}: staff routes refuse anyone who is not listed staff`, async () => {
      const noSession = await status(() =>
        gatekeeperJson(gk, apiPaths.patients, {
          method: "POST",
          body: { mrn: "X-1", patientAddress: stranger.address },
        }),
      );
      assert(noSession === 401, `without a session: ${noSession}`);
      const { token } = await signIn({ gatekeeperUrl: gk, account: stranger, chainId });
      const answer = await status(() =>
        gatekeeperJson(gk, apiPaths.patients, {
          method: "POST",
          token,
          body: { mrn: "X-1", patientAddress: stranger.address },
        }),
      );
      assert(answer === 403, `a stranger's session: ${answer}`);
      return undefined;
    });

    await check(
      `${label}: the family member sees ${grantAt.has(label) ? "only the granted categories" : "nothing"}`,
      async () => {
        assert(viewer, "the manifest's demo section names no family member (demo.viewerMnemonic)");
        const { token } = await signIn({ gatekeeperUrl: gk, account: viewer, chainId });
        const list = () =>
          gatekeeperJson<{ relationship: Hex; role: string }[]>(gk, apiPaths.relationships, { token });
        if (!grantAt.has(label)) {
          const listed = await list();
          assert(listed.length === 0, `lists ${listed.length} relationships without a grant`);
          return undefined;
        }
        // The grant is on chain before the manifest is written; this provider's chain view follows
        // its own node, which may be a block or two behind the node the grant was confirmed on.
        const asked = Date.now();
        let shared: { relationship: Hex; role: string } | undefined;
        for (;;) {
          shared = (await list()).find((r) => r.role === "viewer");
          if (shared || Date.now() - asked > VIEW_CATCH_UP_MS) break;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        assert(shared, `the granted relationship is not listed (asked for ${Date.now() - asked} ms)`);
        const waited = Date.now() - asked;
        const labs = await gatekeeperJson<Bundle>(
          gk,
          `${apiPaths.records(shared.relationship)}?category=labs`,
          {
            token,
          },
        );
        const categories = new Set((labs.entry ?? []).flatMap((e) => resourceCategories(e.resource)));
        assert((labs.entry ?? []).length > 0, "no labs");
        assert(
          [...categories].every((c) => c === "labs"),
          `labs bundle holds ${[...categories].join(", ")}`,
        );
        const conditions = await status(() =>
          gatekeeperJson(gk, `${apiPaths.records(shared.relationship)}?category=conditions`, { token }),
        );
        assert(conditions === 403, `an ungranted category answered ${conditions}`);
        return `${labs.entry?.length} lab records${waited > 1_000 ? ` (listed after ${waited} ms)` : ""}`;
      },
    );

    await check(
      `${label}: the patient's audit shows reads, refusals and staff actions, chained; a stranger's refusals only counted`,
      async () => {
        assert(relationship && patientToken, "no patient session");
        const token: string = patientToken;
        const id: Hex = relationship;
        const read = async () => {
          const page = await gatekeeperJson<AuditList | { entries: AuditList }>(gk, apiPaths.audit(id), {
            token,
          });
          return Array.isArray(page) ? page : page.entries;
        };
        // Refusals are recorded off the response path (adr/0014): the family member's refusal of an
        // ungranted category is an entry of its own once the gatekeeper's queue has been worked off.
        const viewerRefused = (entries: AuditList) =>
          !viewer ||
          entries.some((e) => e.decision === "denied" && isAddressEqual(e.actor as Hex, viewer.address));
        const asked = Date.now();
        let entries = await read();
        while (grantAt.has(label) && !viewerRefused(entries) && Date.now() - asked < VIEW_CATCH_UP_MS) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          entries = await read();
        }
        assert(findAuditChainBreak(entries as never) === -1, "the audit chain is broken");
        const actions = new Set(entries.map((e) => `${e.action}:${e.decision}`));
        if (grantAt.has(label))
          assert(
            viewerRefused(entries),
            `the family member's refusal is not an entry (${[...actions].join(", ")})`,
          );
        // A stranger never held a grant: its refusals are counted into one entry per hour, never its own.
        assert(
          !entries.some((e) => isAddressEqual(e.actor as Hex, stranger.address)),
          "a stranger's refusal is an entry of its own",
        );
        assert(
          entries.some((e) => e.action.startsWith("staff.")),
          `no staff action (${[...actions].join(", ")})`,
        );
        assert(
          entries.some((e) => e.decision === "allowed" && e.actor === patient.address),
          "the patient's own read is missing",
        );
        return `${entries.length} entries`;
      },
    );

    await check(
      `${label}: the audit entries are in the log anchored on chain by the log this provider bound`,
      async () => {
        assert(relationship && patientToken, "no patient session");
        const anchor = manifest.contracts.AuditAnchor as Hex | undefined;
        assert(anchor, "the manifest names no AuditAnchor contract");
        const head = await gatekeeperJson<AuditHeadResponse>(gk, apiPaths.auditHead, { token: patientToken });
        const bound = await client.readContract({
          address: anchor,
          abi: auditAnchorAbi,
          functionName: "logOf",
          args: [provider.account],
        });
        assert(
          head.log && isAddressEqual(head.log, bound),
          `the gatekeeper's log ${head.log} is not the one ${label} bound (${bound})`,
        );
        const token: string = patientToken;
        const entries = await fetchAuditEntries({ gatekeeperUrl: gk, relationship, token });
        const heads = await readAnchoredHeads({ client, anchor, log: bound });
        const verification = await verifyAuditEntries({
          relationship,
          entries,
          heads,
          consistencyProof: (from, to) => fetchAuditConsistencyProof({ gatekeeperUrl: gk, token, from, to }),
        });
        assert(verification.ok, verification.problems.map((x) => x.message).join("; "));
        assert(verification.anchored > 0, "no entry is in an anchored head yet");
        return `${verification.anchored} entries proven in the head of size ${verification.latest.size}, ${verification.pending} newer`;
      },
    );
  }
  return results;
}

if (import.meta.main) {
  const manifest = await readManifest(process.env.MEDREC_MANIFEST);
  const results = await checkNetwork(manifest);
  for (const r of results)
    console.log(`${r.ok ? "ok  " : "FAIL"} ${r.name}${r.detail ? ` — ${r.detail}` : ""}`);
  const failed = results.filter((r) => !r.ok).length;
  console.log(`${results.length - failed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}
