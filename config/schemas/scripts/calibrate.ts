// A script step: runs in a Worker with every permission denied, one batch per call.
// Multiplies `value` by the device's calibration factor and rejects negative readings.
interface ScriptPoint {
  index?: number;
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, number | bigint | string | boolean>;
  timeMs: number;
}

const FACTORS: Record<string, number> = { "probe-1": 1.02, "probe-2": 0.98 };

export default function calibrate(points: ScriptPoint[]) {
  const reject: { index: number; reason: string }[] = [];
  const out: ScriptPoint[] = [];
  for (const p of points) {
    const v = p.fields.value;
    if (typeof v === "number" && v < 0) {
      reject.push({ index: p.index!, reason: `negative reading ${v}` });
      continue;
    }
    if (typeof v === "number") p.fields.value = v * (FACTORS[p.tags.device] ?? 1);
    out.push(p);
  }
  return { points: out, reject };
}
