// The README's first command, run as a newcomer runs it: `./scripts/demo`. It starts a control
// plane of its own, so this only checks that it does what the README promises.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function run(command: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, { cwd: ROOT, shell: "/bin/bash", env: { ...process.env, FORCE_COLOR: "0" } });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => resolve({ code, out }));
  });
}

describe("./scripts/demo (README, Quick start)", () => {
  it("runs the patcher on the seed's multi-team form and shows the plan, the patched Pod, the copies, status, metrics and logs", async () => {
    const { code, out } = await run("./scripts/demo");
    expect(code, out).toBe(0);
    // Quiet set-up: no package-manager banners or bin-link warnings.
    expect(out).not.toMatch(/Update available|New major version|Failed to create bin/i);
    // plan: copies named after their sources; a foreign Secret refused; kube-system, which holds
    // the sources, is selected by neither mapping and so not even mentioned.
    expect(out).toMatch(/regcred-team-a\s+team-a-web\s+create\s+Secret regcred-team-a/);
    expect(out).toMatch(/regcred-team-a\s+team-a-legacy\s+refuse/);
    expect(out).not.toMatch(/kube-system\s+(skip|create)/);
    // The Pod admitted right after its namespace got the secret through its ServiceAccount.
    expect(out).toMatch(/default ServiceAccount referenced the copy \d+ ms after the namespace was created/);
    expect(out).toContain('Pod team-b-ml/trainer was admitted with imagePullSecrets [{"name":"regcred-team-b"}]');
    // The table: each team's namespaces hold that team's copy and entry; the hand-made Secret is left alone.
    expect(out).toMatch(
      /team-a-web\s+regcred-team-a: copy from mapping regcred-team-a \(registry-a\.example\.com\)\s+default=\["regcred-team-a"\]/,
    );
    expect(out).toMatch(
      /team-b-data\s+regcred-team-b: copy from mapping regcred-team-b \(registry-b\.example\.com\)\s+default=\["regcred-team-b"\] etl=\["regcred-team-b"\]/,
    );
    expect(out).toMatch(/team-a-legacy\s+regcred-team-a: someone else's, left alone\s+default=\[\]/);
    expect(out).toMatch(/sandbox\s+-\s+default=\[\]/);
    // status, metrics, logs, and a clean stop.
    expect(out).toMatch(/regcred-team-a\s+secret kube-system\/regcred-team-a\s+ready\s+2\s+1\s+0\s+1/);
    expect(out).toContain('imagepullsecret_patcher_writes_total{kind="secret-create"} 3');
    expect(out).toContain("initial sync complete");
    expect(out).toContain("Patcher and control plane stopped.");
    expect(out).not.toContain("demo-password");
  }, 600_000);
});
