import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, test } from "node:test";
import { medrecCacheDir } from "@medrec/protocol/node";
import {
  ensureGo,
  GO_TOOLCHAIN_VERSION,
  goIsNewEnough,
  parseGoVersion,
  toolchainUrl,
} from "./go-toolchain.ts";

describe("the Go toolchain for the geth build", () => {
  test("default: versions are read from `go version` and compared with what the build needs", () => {
    assert.deepEqual(parseGoVersion("go version go1.26.8 linux/amd64"), [1, 26]);
    assert.deepEqual(parseGoVersion("go version go1.19.8 linux/amd64"), [1, 19]);
    assert.equal(parseGoVersion("bash: go: command not found"), undefined);
    assert.equal(goIsNewEnough([1, 19]), false, "Debian bookworm's golang-go");
    assert.equal(goIsNewEnough([1, 22]), false, "no -checklinkname linker flag");
    assert.equal(goIsNewEnough([1, 23]), true);
    assert.equal(goIsNewEnough([2, 0]), true);
    assert.equal(goIsNewEnough(undefined), false);
  });

  test("default: the toolchain comes from the Go module proxy (or $GOPROXY's first URL)", () => {
    assert.equal(
      toolchainUrl("1.24.13", "x64", undefined),
      "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go1.24.13.linux-amd64.zip",
    );
    assert.match(
      toolchainUrl("1.24.13", "arm64", "https://goproxy.example/,direct"),
      /^https:\/\/goproxy\.example\/golang\.org\/.*linux-arm64\.zip$/,
    );
    assert.match(toolchainUrl("1.24.13", "x64", "off"), /^https:\/\/proxy\.golang\.org\//);
  });

  test("behavior: with no go on PATH, a working Go is fetched once into the cache and reused", async () => {
    const go = await ensureGo({ cacheDir: medrecCacheDir(), pathGo: undefined });
    assert.match(go, new RegExp(`go-${GO_TOOLCHAIN_VERSION.replaceAll(".", "\\.")}/bin/go$`));
    assert.match(
      execFileSync(go, ["version"], { encoding: "utf8" }),
      new RegExp(`go${GO_TOOLCHAIN_VERSION}`),
    );
    // A second call finds it in the cache (no fetch: the same path, at once).
    assert.equal(await ensureGo({ cacheDir: medrecCacheDir(), pathGo: undefined }), go);
  });

  test("behavior: a go on PATH older than 1.23 is passed over for the cached toolchain", async () => {
    const old = "/bin/false"; // `go version` fails → no version → not new enough
    const go = await ensureGo({ cacheDir: medrecCacheDir(), pathGo: old });
    assert.notEqual(go, old);
  });
});
