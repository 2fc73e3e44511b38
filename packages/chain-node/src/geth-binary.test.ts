import assert from "node:assert/strict";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { cachedGethPath, findGeth, GethBinaryError, gethVersion } from "./geth-binary.ts";

const dir = await mkdtemp(join(tmpdir(), "medrec-geth-bin-"));
after(() => rm(dir, { recursive: true, force: true }));

/** A stand-in `geth` that prints a given `geth version` output. */
async function fakeGeth(name: string, version: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\necho Geth\necho "Version: ${version}"\necho "Architecture: amd64"\n`);
  await chmod(path, 0o755);
  return path;
}

describe("findGeth", () => {
  test("default: an explicit v1.13.15 binary is used as is", async () => {
    const path = await fakeGeth("ok", "1.13.15-stable");
    assert.equal(await findGeth({ gethPath: path }), path);
    assert.equal(await gethVersion(path), "1.13.15");
  });

  test("error: the wrong version is named in the message", async () => {
    const path = await fakeGeth("new", "1.14.12-stable");
    await assert.rejects(findGeth({ gethPath: path }), (e: unknown) => {
      assert.ok(e instanceof GethBinaryError);
      assert.equal(e.name, "GethBinaryError");
      assert.match(e.shortMessage, /is geth 1\.14\.12; MedRec needs geth 1\.13\.15/);
      return true;
    });
  });

  test("error: not found and building disabled", async () => {
    await assert.rejects(
      findGeth({ cacheDir: join(dir, "empty-cache"), usePath: false, build: false }),
      /not found/,
    );
  });

  test("behavior: the cache layout", () => {
    assert.equal(cachedGethPath("/c"), "/c/geth-v1.13.15/bin/geth");
  });
});
