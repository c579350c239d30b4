/**
 * Real inputs the mutators start from: the README's examples, the differential tests' data and
 * queries, TSBS-like devops lines, and the escapes and edge cases the format documents.
 * @module
 */
import { QUERIES } from "../differential/_queries.ts";

const enc = new TextEncoder();

/** TSBS `cpu-only` style lines: ten tags, ten integer fields, one host per line. */
export function tsbsLines(hosts: number, startNs = 1_451_606_400_000_000_000n): string[] {
  const out: string[] = [];
  for (let h = 0; h < hosts; h++) {
    const tags = `hostname=host_${h},region=eu-west-1,datacenter=eu-west-1c,rack=${h % 100},` +
      `os=Ubuntu16.04LTS,arch=x64,team=NYC,service=${h % 20},service_version=${h % 2},` +
      `service_environment=production`;
    const fields = [
      "usage_user",
      "usage_system",
      "usage_idle",
      "usage_nice",
      "usage_iowait",
      "usage_irq",
      "usage_softirq",
      "usage_steal",
      "usage_guest",
      "usage_guest_nice",
    ].map((f, i) => `${f}=${(h * 7 + i * 13) % 100}i`).join(",");
    out.push(`cpu,${tags} ${fields} ${startNs + BigInt(h) * 10_000_000_000n}`);
  }
  return out;
}

/** Line protocol: the README's, the documented escapes, edge values, comments, CRLF. */
export const LINE_PROTOCOL_SAMPLES: string[] = [
  "cpu,host=a usage_user=12.5,cores=8i 1700000000",
  "cpu_usage,host=server1,region=us-east value=0.75 1678886400000000000",
  "cpu,host=h1,region=us-east usage_user=12.5,usage_system=3.25,cores=4i," +
  'status="ok",up=true,bytes_sent=9007199254740993i 1678838400',
  "mem,host=h1 used=1024i,free=999999i 1678838400",
  tsbsLines(3).join("\n"),
  "foo\\,bar value=1i",
  "cpu\\ load,region=east value=1",
  "cpu=load,equals\\=foo=tag\\=value value=1i",
  "cpu,region\\,zone=east value=1",
  "cpu,regions=\\\\ east value=1",
  "cpu,host=serverA\\,,=us-east value=1i",
  'm str="line1\\nline2",esc="quote \\" and backslash \\\\" 1',
  'm s="ends with backslash\\\\" 2',
  'm s="a string\nwith a newline" 3',
  "m a=1,b=-1.5,c=.5,d=1e-3,e=1E+10,f=-0 4",
  "m i=9223372036854775807i,j=-9223372036854775808i,u=18446744073709551615u 5",
  "m t=t,T=T,tr=true,Tr=True,TR=TRUE,f=f,F=F,fa=false,Fa=False,FA=FALSE",
  "m v=1 -9223372036854775806",
  "m v=1 9223372036854775806",
  "m v=1 0",
  "# a comment\n   \n\tm v=1 1\r\nm v=2 2\r\n",
  "m,a=1,b=2,c=3 x=1,y=2,z=3 1000000000",
  'm,tag=\u00e9t\u00e9 f\u00e9="\u00fcnic\u00f8de \u{1f600}" 1',
  "weather,location=us-midwest temperature=82 1465839830100400200",
  "m v=1 1\nm v=2 2\nm v=3 3\nm v=4 4",
];

/** Tokens a line-protocol mutation inserts. */
export const LINE_PROTOCOL_TOKENS: string[] = [
  " ",
  ",",
  "=",
  '"',
  "\\",
  "\n",
  "\r\n",
  "#",
  "i",
  "u",
  "t",
  "f",
  "NaN",
  "Inf",
  "-Inf",
  "1e309",
  "-",
  "+",
  ".",
  "e",
  "9223372036854775807",
  "9223372036854775808",
  "18446744073709551616",
  "-9223372036854775809",
  "0x10",
  "\\ ",
  "\\,",
  "\\=",
  '\\"',
  "\\\\",
  "\t",
  "\u0000",
];

/** Native JSON bodies: the README's point, arrays, every field form and timestamp form. */
export const JSON_SAMPLES: string[] = [
  '{"timestamp": 1678886400, "measurement": "cpu_usage", "value": 0.75, "tags": {"host": "server1", "region": "us-east"}}',
  '{"measurement": "cpu", "tags": {"host": "a"}, "fields": {"usage": 0.5, "cores": {"integer": "8"}, "state": "ok", "up": true}, "timestamp": 1678886400}',
  '[{"measurement": "m", "value": 1}, {"measurement": "m", "value": 2, "timestamp": "2023-03-15T13:20:00.123456789+02:00"}]',
  '{"measurement": "m", "fields": {"i": {"integer": "-9223372036854775808"}, "u": {"unsigned": "18446744073709551615"}}, "timestamp": 1678886400123456789}',
  '{"measurement": "m", "value": 1, "timestamp": "1678886400000"}',
  '{"measurement": "m", "value": 1, "timestamp": 1678886400.25}',
  '[{"measurement": "m", "value": "s"}, {"measurement": "", "value": 1}, {"value": 2}]',
  '{"measurement": "m", "tags": {"empty": ""}, "fields": {"f": 1e308, "g": -0}}',
];

/** Tokens a JSON mutation inserts. */
export const JSON_TOKENS: string[] = [
  "{",
  "}",
  "[",
  "]",
  ",",
  ":",
  '"',
  "\\",
  "\\u0000",
  "\\ud800",
  "\\udfff",
  "1e400",
  "-0",
  "9223372036854775808",
  "18446744073709551616",
  "null",
  "true",
  "false",
  "NaN",
  '"integer"',
  '"unsigned"',
  '"measurement"',
  '"tags"',
  '"fields"',
  '"timestamp"',
  '"value"',
  "[".repeat(50),
  '{"a":'.repeat(50),
  "\n",
  "\r",
  " ",
];

/** NDJSON bodies. */
export const NDJSON_SAMPLES: string[] = [
  JSON_SAMPLES.filter((s) => s.startsWith("{")).join("\n"),
  '\ufeff{"measurement": "m", "value": 1}\r\n\r\n{"measurement": "m", "value": 2}\r\n',
  '{"measurement": "m", "value": 1}\n{"broken": \n{"measurement": "n", "value": true}',
];

/** CSV bodies (as the README's `/ingest` with `text/csv`). */
export const CSV_SAMPLES: string[] = [
  "time,measurement,host,region,usage,count\n" +
  "2023-03-15T13:20:00Z,cpu,a,us-east,0.5,3\n" +
  "1678886401,cpu,b,eu-west,0.75,4\n",
  '\ufeffmeasurement,host,msg,up\r\ncpu,a,"quoted, with comma",true\r\ncpu,b,"a ""quote""",false\r\n',
  'measurement,host,note\ncpu,a,"multi\nline"\ncpu,,empty tag\ncpu,c\n',
  "time,measurement,v\n1678886400000,m,1\n1678886400000000,m,-2\n1678886400000000000,m,1e3\n",
];

/** Tokens a CSV mutation inserts. */
export const CSV_TOKENS: string[] = [
  ",",
  '"',
  '""',
  "\n",
  "\r\n",
  "\r",
  "\ufeff",
  "time",
  "measurement",
  "host",
  "1e400",
  "true",
  "-9223372036854775809",
  "2023-03-15T13:20:00Z",
  "9999-12-31T23:59:59.999999999Z",
];

/** InfluxQL: the differential tests' queries and the round-trip cases of the parser's tests. */
export const QUERY_SAMPLES: string[] = [
  ...QUERIES,
  "SELECT mean(value) FROM cpu_usage WHERE host = 'server1' AND time > now() - 1h",
  'SELECT "select", "a b", "x\\"y" AS "from" FROM "db"."rp"."m m"',
  "SELECT a FROM m WHERE time >= '2023-03-15T13:20:00Z' AND time < now() + 10m AND (x = 1 OR y =~ /a\\/b/)",
  "SELECT count(*) FROM /^c/ GROUP BY time(1h, 15m), host fill(-1.5) ORDER BY time DESC LIMIT 1 OFFSET 2 SLIMIT 3 SOFFSET 4",
  "SELECT a * (b + c) / -2, -a, a % 3 & 1 | 2 ^ 4 FROM m WHERE $p = 'it\\'s'",
  "SELECT derivative(mean(v), 1s) FROM m WHERE time > 1678886400s GROUP BY time(1m) fill(previous) tz('UTC')",
  "SELECT a::integer, b::tag, *::field FROM m ORDER BY time ASC",
  "SHOW TAG VALUES FROM cpu, mem WITH KEY !~ /x/",
  "SELECT max(v) FROM (SELECT mean(v) AS v FROM m GROUP BY time(1m), host) GROUP BY time(5m)",
  "SELECT v FROM m -- a comment\n WHERE /* block */ v > 1",
  "CREATE RETENTION POLICY rp ON db DURATION 1d REPLICATION 1 SHARD DURATION 1h DEFAULT",
  "DELETE FROM cpu WHERE time < '2023-01-01T00:00:00Z'; DROP MEASUREMENT cpu",
];

/** Tokens an InfluxQL mutation inserts. */
export const QUERY_TOKENS: string[] = [
  " ",
  "(",
  ")",
  "'",
  '"',
  "/",
  "\\",
  ";",
  ",",
  ".",
  "::",
  "=~",
  "!~",
  "<>",
  "--",
  "/*",
  "*/",
  "SELECT",
  "FROM",
  "WHERE",
  "GROUP BY",
  "time(",
  "fill(",
  "now()",
  "tz('",
  "AND",
  "OR",
  "$",
  "9223372036854775807",
  "9223372036854775808",
  "1e309",
  "0.000000001",
  "1ns",
  "1w",
  "-",
  "*",
  "'2262-04-11T23:47:16.854775807Z'",
  "'1677-09-21T00:12:43.145224192Z'",
  "\n",
  "\u0000",
];

/** UTF-8 bytes of each text sample. */
export function bytesOfAll(texts: readonly string[]): Uint8Array[] {
  return texts.map((t) => enc.encode(t));
}
