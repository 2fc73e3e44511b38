/**
 * `./medrec run attack:relay` — relay admission under a flood (issue 19, adr/0013). Starts the whole
 * local system (as `./medrec start` does: three providers, each gatekeeper with its relay and its
 * production defaults), then an attacker with a fresh key per request — MEDREC_ATTACK_KEYS, default
 * 10,000 — signs a relayed `Agent.register` (what any fresh key may call, the cheapest for it) and
 * sends them to every relay at once (MEDREC_ATTACK_CONCURRENCY requests in flight, default 256), from
 * one client address (127.0.0.1), for MEDREC_ATTACK_SECONDS (default 60): a request refused only
 * for now (busy, rate limited) is sent again at once. Then the same again with fresh keys from
 * MEDREC_ATTACK_ADDRESSES client addresses (default 250: 127.0.1.1 …, a botnet that per-address
 * limits do not stop). During each flood the demo patient (linked at every provider) revokes the
 * family member's grant (granted again before the second flood) and cancels recovery, from
 * another address (127.0.0.2), each through the next relay (latency: the block it was mined in −
 * the head when the signed request was sent to the relay). Writes reports/attack.json: per flood
 * and relay, requests sent, accepted and refused by reason (`check`, or the per-client rate
 * limit), what its relayer spent on the attack (gasUsed × price from the receipts of the accepted
 * transactions); each relayer's spend in all (its balance before and after); the honest calls'
 * latency in blocks (mined block − the head when sent) and in seconds.
 */
import { request as httpRequest } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  accountFromMnemonic,
  agentAbi,
  type ForwardRequest,
  parseManifest,
  relationshipAbi,
  relayAndWait,
  serializeRelayRequest,
  signForwardRequest,
  submitRelayed,
} from "@medrec/protocol";
import { startReport } from "@medrec/testkit";
import { pino } from "pino";
import { type Address, createPublicClient, encodeFunctionData, type Hex, http, keccak256 } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { startSystem } from "./system.ts";

const keys = Number(process.env.MEDREC_ATTACK_KEYS ?? 10_000);
const concurrency = Number(process.env.MEDREC_ATTACK_CONCURRENCY ?? 256);
const windowSeconds = Number(process.env.MEDREC_ATTACK_SECONDS ?? 60);
/** The second flood's client addresses (127.0.1.1 …): a botnet, to which per-address limits are no obstacle. */
const ATTACK_ADDRESSES = Math.min(250, Number(process.env.MEDREC_ATTACK_ADDRESSES ?? 250));
if (!Number.isInteger(windowSeconds) || windowSeconds < 10)
  throw new Error(`MEDREC_ATTACK_SECONDS must be an integer ≥ 10, got ${windowSeconds}`);
if (!Number.isInteger(keys) || keys < 100) throw new Error(`MEDREC_ATTACK_KEYS must be ≥ 100, got ${keys}`);
if (!Number.isInteger(concurrency) || concurrency < 1)
  throw new Error(`MEDREC_ATTACK_CONCURRENCY must be ≥ 1, got ${concurrency}`);
/** The honest patient is elsewhere: its requests leave from another loopback address than the attacker's. */
const HONEST_ADDRESS = "127.0.0.2";

/** `fetch` over node:http from `localAddress` (the relay sees that client address). */
function fetchFrom(localAddress: string): typeof globalThis.fetch {
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const req = httpRequest(
        new URL(String(input)),
        {
          method: init?.method ?? "GET",
          headers: Object.fromEntries(new Headers(init?.headers).entries()),
          localAddress,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const headers = new Headers();
            for (const [k, v] of Object.entries(res.headers))
              if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
            resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers }));
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      if (typeof init?.body === "string") req.write(init.body);
      req.end();
    });
}

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const report = startReport("./medrec run attack:relay", root);

const system = await startSystem({
  periodSeconds: 1,
  gatekeeperPort: 0,
  corsOrigins: [],
  log: () => undefined,
  logger: pino({ level: "error" }),
});
try {
  const manifest = parseManifest(system.manifest);
  const demo = system.manifest.demo as unknown as {
    patientMnemonic: string;
    viewerAddress: Address;
    patients: { provider: string; relationship: Hex }[];
    viewerGrant: { providers: string[] };
  };
  const contracts = manifest.contracts as unknown as Record<"Agent" | "Relationship" | "Forwarder", Address>;
  const client = createPublicClient({ transport: http(manifest.rpcUrl) });
  const relays = system.providers.map((p) => ({
    name: p.name,
    url: p.gatekeeper.url,
    relayer: privateKeyToAccount(p.relayerKey).address,
  }));
  const domain = { chainId: manifest.chainId, forwarder: contracts.Forwarder };
  const balancesBefore = await Promise.all(relays.map((r) => client.getBalance({ address: r.relayer })));

  const patient = accountFromMnemonic(demo.patientMnemonic, 0);
  const granted = demo.patients.filter((p) => demo.viewerGrant.providers.includes(p.provider));

  /** One flood from `addresses` client addresses, with the honest calls during it. */
  async function flood(addresses: number) {
    // The family member's grants again (the previous flood's revokes took them back).
    for (const p of granted) {
      const grant = await client.readContract({
        address: contracts.Relationship,
        abi: relationshipAbi,
        functionName: "grantOf",
        args: [p.relationship, demo.viewerAddress],
      });
      if (grant.expiresAt > 0n) continue;
      await relayAndWait({
        client,
        forwarder: contracts.Forwarder,
        account: patient,
        to: contracts.Relationship,
        data: encodeFunctionData({
          abi: relationshipAbi,
          functionName: "grant",
          args: [
            p.relationship,
            demo.viewerAddress,
            0b1,
            BigInt(Math.floor(Date.now() / 1000) + 86_400),
            "0x",
          ],
        }),
        chainId: manifest.chainId,
        gatekeeperUrl: relays[0]?.url ?? "",
        fetch: fetchFrom(HONEST_ADDRESS),
      });
    }
    // The attacker's requests, signed up front: one fresh key each, nonce 0, Agent.register.
    const deadline = Math.floor(Date.now() / 1000) + 600;
    const bodies = await Promise.all(
      Array.from({ length: keys }, async () => {
        const key = privateKeyToAccount(generatePrivateKey());
        const request: ForwardRequest = {
          from: key.address,
          to: contracts.Agent,
          value: 0n,
          gas: 200_000n,
          nonce: 0n,
          deadline,
          data: encodeFunctionData({
            abi: agentAbi,
            functionName: "register",
            args: [keccak256(key.address), [], 0],
          }),
        };
        return serializeRelayRequest(request, await signForwardRequest(key, request, domain));
      }),
    );

    type Tally = { sent: number; accepted: number; refused: Record<string, number>; txs: Hex[] };
    const tallies: Tally[] = relays.map(() => ({ sent: 0, accepted: 0, refused: {}, txs: [] }));
    const attackStartBlock = await client.getBlockNumber({ cacheTime: 0 });
    const began = Date.now();
    // Each key goes to one relay (in turn). A request refused only for now (busy, the per-client
    // rate limit: Retry-After) goes back in the queue at once — the attacker does not wait — until
    // the window ends; every other answer is final.
    const queue = bodies.map((body, i) => ({ body, r: i % relays.length }));
    const retryable = new Set(["relayer-busy", "per-client-rate-limit", "too-many-waiting"]);
    let attempts = 0;
    const worker = async (w: number) => {
      const send: typeof globalThis.fetch =
        addresses === 1 ? globalThis.fetch : fetchFrom(`127.0.1.${(w % addresses) + 1}`);
      for (
        let item = queue.shift();
        item && Date.now() - began < windowSeconds * 1000;
        item = queue.shift()
      ) {
        const { body, r } = item;
        const tally = tallies[r] as Tally;
        tally.sent++;
        attempts++;
        try {
          const res = await send(`${relays[r]?.url}/v1/relay`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          });
          const json = (await res.json().catch(() => ({}))) as { txHash?: Hex; check?: string };
          if (res.status === 202 && json.txHash) {
            tally.accepted++;
            tally.txs.push(json.txHash);
          } else {
            const reason =
              json.check ?? (res.status === 429 ? "per-client-rate-limit" : `http-${res.status}`);
            tally.refused[reason] = (tally.refused[reason] ?? 0) + 1;
            if (retryable.has(reason)) queue.push(item);
          }
        } catch {
          tally.refused["no-answer"] = (tally.refused["no-answer"] ?? 0) + 1;
        }
      }
    };
    const flooding = Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));

    // The honest patient, once the flood is under way (a fifth of the window): a revoke at each
    // provider where the family member holds a grant, and a recovery cancel, each through the next relay.
    while (Date.now() - began < (windowSeconds * 1000) / 5) await new Promise((r) => setTimeout(r, 100));
    const honest = [];
    for (const [i, call] of [
      ...granted.map((p) => ({
        name: `Relationship.revoke (${p.provider})`,
        to: contracts.Relationship,
        data: encodeFunctionData({
          abi: relationshipAbi,
          functionName: "revoke",
          args: [p.relationship, demo.viewerAddress],
        }),
      })),
      {
        name: "Agent.cancelRecovery",
        to: contracts.Agent,
        data: encodeFunctionData({ abi: agentAbi, functionName: "cancelRecovery", args: [patient.address] }),
      },
    ].entries()) {
      const relay = relays[i % relays.length];
      const sentAtBlock = await client.getBlockNumber({ cacheTime: 0 });
      const sentAt = Date.now();
      let submittedAtBlock = 0n;
      let acceptedAtBlock = 0n;
      const { receipt } = await relayAndWait({
        client,
        forwarder: contracts.Forwarder,
        account: patient,
        to: call.to,
        data: call.data,
        chainId: manifest.chainId,
        submit: async (body) => {
          submittedAtBlock = await client.getBlockNumber({ cacheTime: 0 });
          const txHash = await submitRelayed({
            gatekeeperUrl: relay?.url ?? "",
            ...body,
            fetch: fetchFrom(HONEST_ADDRESS),
          });
          acceptedAtBlock = await client.getBlockNumber({ cacheTime: 0 });
          return txHash;
        },
      });
      honest.push({
        call: call.name,
        relay: relay?.name,
        attackRequestsSentBefore: attempts,
        secondsIntoFlood: Number(((sentAt - began) / 1000).toFixed(1)),
        builtAtBlock: Number(sentAtBlock),
        submittedAtBlock: Number(submittedAtBlock),
        acceptedAtBlock: Number(acceptedAtBlock),
        minedInBlock: Number(receipt.blockNumber),
        /** Mined block − the head when the signed request was sent to the relay. */
        latencyBlocks: Number(receipt.blockNumber - submittedAtBlock),
        latencySeconds: Number(((Date.now() - sentAt) / 1000).toFixed(2)),
        status: receipt.status,
      });
    }
    await flooding;
    const floodSeconds = (Date.now() - began) / 1000;
    // Every accepted transaction mined (their receipts are what the relayers paid).
    const perRelay = [];
    for (const [i, relay] of relays.entries()) {
      const tally = tallies[i] as Tally;
      let gas = 0n;
      let wei = 0n;
      let reverted = 0;
      for (const hash of tally.txs) {
        const receipt = await client.waitForTransactionReceipt({
          hash,
          pollingInterval: 250,
          timeout: 600_000,
        });
        gas += receipt.gasUsed;
        wei += receipt.gasUsed * receipt.effectiveGasPrice;
        if (receipt.status !== "success") reverted++;
      }
      perRelay.push({
        relay: relay.name,
        relayer: relay.relayer,
        sent: tally.sent,
        accepted: tally.accepted,
        refused: Object.fromEntries(Object.entries(tally.refused).sort(([a], [b]) => a.localeCompare(b))),
        attackSpend: { gas: Number(gas), wei: wei.toString(), reverted },
      });
    }

    const endBlock = await client.getBlockNumber({ cacheTime: 0 });
    return {
      attacker: {
        keys,
        keysAnswered: keys - queue.length,
        requests: attempts,
        windowSeconds,
        concurrency,
        clientAddresses: addresses,
        call: "Agent.register (a fresh key per request, nonce 0)",
        floodSeconds: Number(floodSeconds.toFixed(1)),
        blocks: Number(endBlock - attackStartBlock),
      },
      relays: perRelay,
      honest,
      property: {
        protectiveWithin3Blocks: honest.every((h) => h.latencyBlocks <= 3 && h.status === "success"),
        openLaneWithinBudget: perRelay.every((r) => r.accepted <= 1000 && r.attackSpend.gas <= 300_000_000),
      },
    };
  }

  const floods = [];
  for (const addresses of [1, ATTACK_ADDRESSES]) floods.push(await flood(addresses));
  const written = report.write(path.join(root, "reports", "attack.json"), {
    /** Two floods (one client address, then many); each honest call once per flood. */
    runs: 1,
    policy:
      "gatekeeper defaults (adr/0013): open lane RELAY_OPEN_DAILY_REQUESTS 1000 / RELAY_OPEN_DAILY_GAS 300,000,000 per relay per 24 h; RELAY_MAX_IN_FLIGHT 32; RELAY_RATE_LIMIT_PER_MINUTE 300 per client address on POST /v1/relay (protective calls exempt) and the app-wide RATE_LIMIT_PER_MINUTE 6000 per client address (everything); the attacker at 127.0.0.1 (then 127.0.1.1–250), the honest patient at 127.0.0.2",
    floods,
    relayerSpentInAllWei: await Promise.all(
      relays.map(async (r, i) => ({
        relay: r.name,
        wei: ((balancesBefore[i] ?? 0n) - (await client.getBalance({ address: r.relayer }))).toString(),
      })),
    ),
  });
  console.log(JSON.stringify(written, null, 2));
} finally {
  await system.stop();
}
