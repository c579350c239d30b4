/**
 * Installs the peers from Debian's packages when they are missing (InfluxDB 1.6.7 is `influxdb`,
 * VictoriaMetrics 1.79.5 is `victoria-metrics`). Debian may start them as services on their
 * default ports; the benchmark starts its own copies on free loopback ports with temporary data.
 * @module
 */

const PACKAGES: Record<string, { binary: string; apt: string }> = {
  influxdb: { binary: "/usr/bin/influxd", apt: "influxdb" },
  victoriametrics: { binary: "/usr/bin/victoria-metrics", apt: "victoria-metrics" },
};

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

async function run(command: string, args: string[]): Promise<void> {
  const { code } = await new Deno.Command(command, {
    args,
    env: { DEBIAN_FRONTEND: "noninteractive" },
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} failed with exit code ${code}`);
}

/** apt-get installs every requested peer whose binary is absent. */
export async function ensurePeersInstalled(systems: string[]): Promise<void> {
  const missing = systems.map((s) => PACKAGES[s]).filter((p) => p && !exists(p.binary));
  if (missing.length === 0) return;
  console.error(`installing ${missing.map((p) => p.apt).join(", ")} from apt`);
  await run("apt-get", ["update", "-qq"]);
  await run("apt-get", ["install", "-y", "-qq", ...missing.map((p) => p.apt)]);
}
