import assert from "node:assert/strict";
import fc from "fast-check";
import {
  compactInteger,
  type Field,
  FieldType,
  instantFromNanos,
  INT64_MAX,
  INT64_MIN,
  MAX_TIME_NS,
  MIN_TIME_NS,
  PackedPoint,
  type Point,
  type Precision,
  type Tag,
  UINT64_MAX,
} from "../core/mod.ts";
import {
  completeLinesEnd,
  LineProtocolCache,
  LineProtocolDecoder,
  type LineProtocolOptions,
  parseLineProtocol,
} from "./line_protocol.ts";
import { formatLineProtocol } from "./line_protocol_format.ts";

const enc = new TextEncoder();
const EPOCH = { ms: 0, subMs: 0 };

function parse(text: string, options: Partial<LineProtocolOptions> = {}) {
  return parseLineProtocol(enc.encode(text), { defaultTime: EPOCH, ...options });
}

const TYPE_SUFFIX: Record<number, string> = { 1: "f", 2: "i", 3: "u", 4: "s", 5: "b" };

/** A compact, exact rendering of a point: `name|k=v,...|key:type=value,...|ms+subMs`. */
function show(p: Point): string {
  const tags = p.tags.map((t) => `${JSON.stringify(t.key)}=${JSON.stringify(t.value)}`).join(",");
  const fields = p.fields.map((f) => {
    const v = typeof f.value === "string"
      ? JSON.stringify(f.value)
      : Object.is(f.value, -0)
      ? "-0"
      : `${f.value}${typeof f.value === "bigint" ? "n" : ""}`;
    return `${JSON.stringify(f.key)}:${TYPE_SUFFIX[f.type]}=${v}`;
  }).join(",");
  return `${JSON.stringify(p.measurement)}|${tags}|${fields}|${p.timeMs}+${p.timeSubMs}`;
}

function one(line: string, options: Partial<LineProtocolOptions> = {}): string {
  const { points, errors } = parse(line, options);
  assert.deepEqual(errors, [], `unexpected errors for ${JSON.stringify(line)}`);
  assert.equal(points.length, 1, `expected one point for ${JSON.stringify(line)}`);
  return show(points[0]);
}

// Accepted lines and the point they decode to (default time: the epoch).
const GOOD: [string, string][] = [
  ["cpu value=1", '"cpu"||"value":f=1|0+0'],
  ["cpu value=1 1000000000", '"cpu"||"value":f=1|1000+0'],
  ["cpu,host=a,region=b value=1.5 -1", '"cpu"|"host"="a","region"="b"|"value":f=1.5|-1+999999'],
  ["cpu,z=1,a=2,m=3 v=1", '"cpu"|"a"="2","m"="3","z"="1"|"v":f=1|0+0'],
  ["cpu    value=1.0 1257894000000000000", '"cpu"||"value":f=1|1257894000000+0'],
  ["cpu value=1.0     1257894000000000000   ", '"cpu"||"value":f=1|1257894000000+0'],
  ["  \tcpu value=1", '"cpu"||"value":f=1|0+0'],
  // numbers
  ["m f=-1.5,g=.5,h=1.,i=01.50,j=-0,k=-0.0,l=1e3,n=1E-3,o=-1.0e+4", ""],
  ["m a=1i,b=-1i,c=0i,d=-0i,e=0009223372036854775807i", ""],
  ["m a=9223372036854775807i,b=-9223372036854775808i,c=9007199254740993i", ""],
  ["m a=0u,b=18446744073709551615u,c=00018446744073709551615u,d=9007199254740991u", ""],
  ["m f=58.1317132304976170,g=0.1,h=123456789012345678901234567890", ""],
  ["m f=1.7976931348623157e308,g=-1.7976931348623157e308,h=5e-324,i=1e-400", ""],
  // booleans
  ["m a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE", ""],
  // strings
  ['m s="hello world, a=b"', '"m"||"s":s="hello world, a=b"|0+0'],
  ['m s=""', '"m"||"s":s=""|0+0'],
  ['m s="a\\"b\\\\c\\nd\\e"', '"m"||"s":s="a\\"b\\\\c\\\\nd\\\\e"|0+0'],
  ['m s="line1\nline2",t=1 5', '"m"||"s":s="line1\\nline2","t":f=1|0+5'],
  ['m s="日本語 🙂"', '"m"||"s":s="日本語 🙂"|0+0'],
  ['m s="ends with backslash\\\\"', '"m"||"s":s="ends with backslash\\\\"|0+0'],
  // escapes in names
  ["foo\\,bar value=1i", '"foo,bar"||"value":i=1|0+0'],
  ["cpu\\ load,region=east value=1", '"cpu load"|"region"="east"|"value":f=1|0+0'],
  ['cpu\\=load\\"x v=1', '"cpu=load\\"x"||"v":f=1|0+0'],
  [
    "cpu=load,equals\\=foo=tag\\=value value=1i",
    '"cpu=load"|"equals=foo"="tag=value"|"value":i=1|0+0',
  ],
  ["cpu,region\\,zone=east value=1", '"cpu"|"region,zone"="east"|"value":f=1|0+0'],
  ["cpu,\\ =east value=1", '"cpu"|" "="east"|"value":f=1|0+0'],
  ["cpu,reg\\\\=ion=east value=1", '"cpu"|"reg\\\\=ion"="east"|"value":f=1|0+0'],
  ["cpu,regions=\\\\ east value=1", '"cpu"|"regions"="\\\\ east"|"value":f=1|0+0'],
  ["cpu,regions=east\\\\  value=1", '"cpu"|"regions"="east\\\\ "|"value":f=1|0+0'],
  ["cpu,regions=eas\\t value=1", '"cpu"|"regions"="eas\\\\t"|"value":f=1|0+0'],
  ["cpu,regions=\\\\,\\,\\=east value=1", '"cpu"|"regions"="\\\\,,=east"|"value":f=1|0+0'],
  ['cpu,t=a\\"b v=1', '"cpu"|"t"="a\\\\\\"b"|"v":f=1|0+0'],
  ["cpu,host==b v=1", '"cpu"|"host"="=b"|"v":f=1|0+0'],
  ['cpu value\\,ms=1,value\\ s=2,v\\=x=3,q\\"k=4,\\a=5i', ""],
  ['cpu,t=日本 ключ="значение"', '"cpu"|"t"="日本"|"ключ":s="значение"|0+0'],
  ['m\\"q,t\\"=\\"v v=1', '"m\\"q"|"t\\\\\\""="\\\\\\"v"|"v":f=1|0+0'],
  // duplicates: the last value wins
  ["m a=1,a=2,a=3 1", '"m"||"a":f=3|0+1'],
  ['m a="x",b=1,a="y"', '"m"||"a":s="y","b":f=1|0+0'],
];

const NUMBER_RESULTS: Record<string, string> = {
  "m f=-1.5,g=.5,h=1.,i=01.50,j=-0,k=-0.0,l=1e3,n=1E-3,o=-1.0e+4":
    '"m"||"f":f=-1.5,"g":f=0.5,"h":f=1,"i":f=1.5,"j":f=-0,"k":f=-0,"l":f=1000,"n":f=0.001,' +
    '"o":f=-10000|0+0',
  "m a=1i,b=-1i,c=0i,d=-0i,e=0009223372036854775807i":
    '"m"||"a":i=1,"b":i=-1,"c":i=0,"d":i=0,"e":i=9223372036854775807n|0+0',
  "m a=9223372036854775807i,b=-9223372036854775808i,c=9007199254740993i":
    '"m"||"a":i=9223372036854775807n,"b":i=-9223372036854775808n,"c":i=9007199254740993n|0+0',
  "m a=0u,b=18446744073709551615u,c=00018446744073709551615u,d=9007199254740991u":
    '"m"||"a":u=0,"b":u=18446744073709551615n,"c":u=18446744073709551615n,' +
    '"d":u=9007199254740991|0+0',
  "m f=58.1317132304976170,g=0.1,h=123456789012345678901234567890":
    '"m"||"f":f=58.13171323049762,"g":f=0.1,"h":f=1.2345678901234568e+29|0+0',
  "m f=1.7976931348623157e308,g=-1.7976931348623157e308,h=5e-324,i=1e-400":
    '"m"||"f":f=1.7976931348623157e+308,"g":f=-1.7976931348623157e+308,"h":f=5e-324,' +
    '"i":f=0|0+0',
  "m a=t,b=T,c=true,d=True,e=TRUE,f=f,g=F,h=false,i=False,j=FALSE":
    '"m"||"a":b=true,"b":b=true,"c":b=true,"d":b=true,"e":b=true,"f":b=false,"g":b=false,' +
    '"h":b=false,"i":b=false,"j":b=false|0+0',
  'cpu value\\,ms=1,value\\ s=2,v\\=x=3,q\\"k=4,\\a=5i':
    '"cpu"||"value,ms":f=1,"value s":f=2,"v=x":f=3,"q\\"k":f=4,"\\\\a":i=5|0+0',
};

Deno.test("line protocol: accepted lines decode exactly", () => {
  for (const [line, expected] of GOOD) {
    assert.equal(one(line), expected || NUMBER_RESULTS[line], `line ${JSON.stringify(line)}`);
  }
});

// Rejected lines: reason (as InfluxDB 1.6.7 words it) and 1-based column.
const BAD: [string, string, number][] = [
  ["cpu", "missing fields", 4],
  ["cpu,host=a", "missing fields", 11],
  ["cpu,host==", "missing fields", 11],
  ["=", "missing fields", 2],
  [",a=1 v=1", "missing measurement", 1],
  ["cpu ", "invalid field format", 5],
  ["cpu, value=1", "missing tag key", 5],
  ["cpu,,, v=1", "missing tag key", 5],
  ["cpu,host=a,=us v=1i", "missing tag key", 12],
  ["cpu,host=serverA\\,,=us-east value=1i", "missing tag key", 20],
  ["cpu,host", "missing tag value", 9],
  ["cpu,host,", "missing tag value", 9],
  ["cpu,host=", "missing tag value", 10],
  ["cpu,host value=1i", "missing tag value", 9],
  ["cpu,host=a,region= value=1i", "missing tag value", 19],
  ["cpu,host=a,region=,zone=b value=1i", "missing tag value", 19],
  ["cpu,host=f=o, v=1", "invalid tag format", 11],
  ["cpu,host=f\\==o, v=1", "invalid tag format", 13],
  ["cpu,a=1,a=2 v=1", "duplicate tags", 9],
  ["cpu,b=1,a=2,b=3 v=1", "duplicate tags", 13],
  ["cpu =1", "missing field key", 5],
  ["cpu a=1,=2", "missing field key", 9],
  ["cpu a=", "missing field value", 7],
  ["cpu a= 1", "missing field value", 7],
  ["cpu a=,b=1", "missing field value", 7],
  ["cpu a", "invalid field format", 6],
  ["cpu a,b=1", "invalid field format", 6],
  ["cpu a=1,", "invalid field format", 9],
  ["cpu a=1, b=2", "invalid field format", 9],
  ["cpu a=1,b", "invalid field format", 10],
  ['cpu a="x"y', "invalid field format", 10],
  ['m f="blah"=123,r 1531703600000000000', "invalid field format", 11],
  ['cpu a="x', "unbalanced quotes", 7],
  ['cpu,host=serverA value="test""', "unbalanced quotes", 24],
  ["cpu a=tru", "invalid boolean", 7],
  ["cpu a=Inf", 'invalid number: field "a" is Inf, and only finite numbers can be stored', 7],
  ["cpu a=+Inf", 'invalid number: field "a" is +Inf, and only finite numbers can be stored', 7],
  ["cpu a=truE", "invalid boolean", 7],
  ["cpu a=fals", "invalid boolean", 7],
  ["cpu a=tx", "invalid boolean", 7],
  ["cpu a=NaN", 'invalid number: field "a" is NaN, and only finite numbers can be stored', 7],
  ["cpu a=nan 1", 'invalid number: field "a" is nan, and only finite numbers can be stored', 7],
  ["cpu a=-Inf", 'invalid number: field "a" is -Inf, and only finite numbers can be stored', 7],
  [
    "cpu,h=x a=1,b=infinity",
    'invalid number: field "b" is infinity, and only finite numbers can be stored',
    15,
  ],
  ["cpu a=Infx", "invalid boolean", 7],
  ["cpu a=-Infinity5", "invalid number", 7],
  ["cpu a=-", "invalid number", 7],
  ["cpu a=-i", "invalid number", 7],
  ["cpu a=-.", "invalid number", 7],
  ["cpu a=.", "invalid number", 7],
  ["cpu a=1.0i", "invalid number", 7],
  ["cpu a=1ii", "invalid number", 7],
  ["cpu a=1a", "invalid number", 7],
  ["cpu a=42+3", "invalid number", 7],
  ["cpu a=1.1.1", "invalid number", 7],
  ["cpu a=0.-1", "invalid number", 7],
  ["cpu a=9ie10", "invalid number", 7],
  ["cpu a=9e10i", "invalid number", 7],
  ["cpu a=1i10", "invalid number", 7],
  ["cpu a=-123u", "invalid number", 7],
  ["cpu a=--1u", "invalid number", 7],
  ["cpu a=1iu", "invalid number", 7],
  ["cpu a=0x10", "invalid number", 7],
  ["cpu a=1e400", "invalid float", 7],
  ["cpu a=-e-e-e", "invalid float", 7],
  ["cpu a=1e", "invalid float", 7],
  [
    "cpu a=9223372036854775808i",
    'unable to parse integer 9223372036854775808: strconv.ParseInt: parsing "9223372036854775808": ' +
    "value out of range",
    7,
  ],
  [
    "cpu a=-9223372036854775809i",
    "unable to parse integer -9223372036854775809: strconv.ParseInt: parsing " +
    '"-9223372036854775809": value out of range',
    7,
  ],
  [
    "cpu a=18446744073709551616u",
    "unable to parse unsigned 18446744073709551616: strconv.ParseUint: parsing " +
    '"18446744073709551616": value out of range',
    7,
  ],
  ["cpu a=1 12a", "bad timestamp", 11],
  ["cpu a=1 -", "bad timestamp", 9],
  ["cpu a=1 --5", "bad timestamp", 10],
  ["cpu a=1 1.5", "bad timestamp", 10],
  ["cpu a=1 1434055562000000000i", "bad timestamp", 28],
  ["cpu a=1 123 456", "point is invalid", 13],
  ["cpu a=1 b=2", "bad timestamp", 9],
  [
    "cpu a=1 9223372036854775807",
    "time outside range -9223372036854775806 - 9223372036854775806",
    9,
  ],
  [
    "cpu a=1 -9223372036854775807",
    "time outside range -9223372036854775806 - 9223372036854775806",
    9,
  ],
  [
    "cpu a=1 99999999999999999999",
    "time outside range -9223372036854775806 - 9223372036854775806",
    9,
  ],
  [
    "cpu a=1,a=2i",
    'field type conflict: field "a" appears twice in the line with different types',
    9,
  ],
];

Deno.test("line protocol: rejected lines give InfluxDB's reason and the column", () => {
  for (const [line, reason, column] of BAD) {
    const { points, errors } = parse(line);
    assert.equal(points.length, 0, `no point for ${JSON.stringify(line)}`);
    assert.equal(errors.length, 1, `one error for ${JSON.stringify(line)}`);
    const e = errors[0];
    assert.deepEqual(
      [e.reason, e.column, e.line, e.text],
      [reason, column, 1, line.trimStart()],
      `line ${JSON.stringify(line)}`,
    );
  }
});

Deno.test("line protocol: errors name the field and keep the good lines", () => {
  const body = "m a=1 1\nm b=NaN 2\n\nm c=3 3\nm,x d=1 4\nm e=5 5";
  const { points, errors } = parse(body);
  assert.deepEqual(points.map((p) => p.fields[0].key), ["a", "c", "e"]);
  assert.deepEqual(errors, [
    {
      line: 2,
      column: 5,
      reason: 'invalid number: field "b" is NaN, and only finite numbers can be stored',
      text: "m b=NaN 2",
      field: "b",
    },
    { line: 5, column: 4, reason: "missing tag value", text: "m,x d=1 4" },
  ]);
});

Deno.test("line protocol: comments, blank lines, CRLF and leading whitespace", () => {
  const body = '# a comment\n\n   \n\t# indented comment with "quote" and a="b\n' +
    "cpu v=1 1\r\n\r\ncpu v=2 2\r\n  cpu v=3 3\n# last";
  const { points, errors } = parse(body);
  assert.deepEqual(errors, []);
  assert.deepEqual(points.map((p) => [p.fields[0].value, p.timeSubMs]), [[1, 1], [2, 2], [3, 3]]);
});

Deno.test("line protocol: a quoted string may hold newlines; line numbers count them", () => {
  const body = 'a s="x\ny\nz" 1\nb v=bad 2\nc s="p\\"\nq" 3\nd v=NaN';
  const { points, errors } = parse(body);
  assert.deepEqual(points.map((p) => [p.measurement, p.fields[0].value]), [
    ["a", "x\ny\nz"],
    ["c", 'p"\nq'],
  ]);
  assert.deepEqual(errors.map((e) => [e.line, e.reason]), [[4, "invalid boolean"], [
    7,
    'invalid number: field "v" is NaN, and only finite numbers can be stored',
  ]]);
});

Deno.test("line protocol: an unbalanced quote swallows the rest of the body, as in InfluxDB", () => {
  const { points, errors } = parse('a v=1\nb s="open\nc v=1\nd v=2');
  assert.equal(points.length, 1);
  assert.deepEqual(errors.map((e) => [e.line, e.reason]), [[2, "unbalanced quotes"]]);
});

Deno.test("line protocol: an error text is cut to errorTextLimit bytes on a character boundary", () => {
  const line = `m,t=${"é".repeat(150)} v=NaN`;
  const { errors } = parse(line);
  assert.equal(errors[0].text, "m,t=" + "é".repeat(98) + "...");
  assert.equal(parse(line, { errorTextLimit: 1000 }).errors[0].text, line);
});

Deno.test("line protocol: invalid UTF-8 in names and strings is an error", () => {
  const bad = (pre: string, post: string) =>
    new Uint8Array([...enc.encode(pre), 0xff, 0xfe, ...enc.encode(post)]);
  const cases: [Uint8Array, string][] = [
    [bad("m", " v=1"), "invalid UTF-8 in measurement"],
    [bad("m,t=", " v=1"), "invalid UTF-8 in tag value"],
    [bad("m,", "=x v=1"), "invalid UTF-8 in tag key"],
    [bad("m ", "=1"), "invalid UTF-8 in field key"],
    [bad('m s="', '"'), "invalid UTF-8 in string field"],
  ];
  for (const [body, reason] of cases) {
    const { points, errors } = parseLineProtocol(body, { defaultTime: EPOCH });
    assert.equal(points.length, 0);
    assert.equal(errors[0].reason, reason);
  }
});

Deno.test("line protocol: timestamps in every precision, exact at the range limits", () => {
  const cases: [Precision, string, number, number][] = [
    ["ns", "1678886400123456789", 1678886400123, 456789],
    ["ns", "9223372036854775806", 9223372036854, 775806],
    ["ns", "-9223372036854775806", -9223372036855, 224194],
    ["ns", "-1", -1, 999999],
    ["ns", "0", 0, 0],
    ["ns", "-0", 0, 0],
    ["ns", "000000000000000000000000123", 0, 123],
    ["n", "5", 0, 5],
    ["u", "1678886400123456", 1678886400123, 456000],
    ["us", "9223372036854775", 9223372036854, 775000],
    ["µ", "-1", -1, 999000],
    ["ms", "1678886400123", 1678886400123, 0],
    ["ms", "-9223372036854", -9223372036854, 0],
    ["s", "1678886400", 1678886400000, 0],
    ["s", "9223372036", 9223372036000, 0],
    ["m", "153722867", 153722867 * 60000, 0],
    ["h", "-2562047", -2562047 * 3600000, 0],
  ];
  for (const [precision, ts, ms, subMs] of cases) {
    const { points, errors } = parse(`m v=1 ${ts}`, { precision });
    assert.deepEqual(errors, [], `${ts} ${precision}`);
    assert.deepEqual([points[0].timeMs, points[0].timeSubMs], [ms, subMs], `${ts} ${precision}`);
  }
  const outside: [Precision, string][] = [
    ["ns", "9223372036854775807"],
    ["ns", "-9223372036854775808"],
    ["u", "9223372036854776"],
    ["ms", "9223372036855"],
    ["s", "9223372037"],
    ["s", "-9223372037"],
    ["m", "153722868"],
    ["h", "2562048"],
    ["h", "100000000000000000000000"],
  ];
  for (const [precision, ts] of outside) {
    const { errors } = parse(`m v=1 ${ts}`, { precision });
    assert.match(errors[0]?.reason ?? "", /^time outside range/, `${ts} ${precision}`);
  }
});

Deno.test("line protocol: a point without timestamp gets defaultTime truncated to the precision", () => {
  const defaultTime = { ms: 1678886461789, subMs: 123456 };
  const cases: [Precision, number, number][] = [
    ["ns", 1678886461789, 123456],
    ["u", 1678886461789, 123000],
    ["ms", 1678886461789, 0],
    ["s", 1678886461000, 0],
    ["m", 1678886460000, 0],
    ["h", 1678885200000, 0],
  ];
  for (const [precision, ms, subMs] of cases) {
    const p = parse("m v=1", { precision, defaultTime }).points[0];
    assert.deepEqual([p.timeMs, p.timeSubMs], [ms, subMs], precision);
  }
  const before = parse("m v=1", { precision: "s", defaultTime: { ms: -1500, subMs: 5 } }).points[0];
  assert.deepEqual([before.timeMs, before.timeSubMs], [-2000, 0]);
});

Deno.test("line protocol: the key length limit of InfluxDB", () => {
  const name = "m".repeat(65536);
  assert.equal(parse(`${name} v=1`).errors[0].reason, "max key length exceeded: 65536 > 65535");
  const key = "k".repeat(65531);
  assert.equal(parse(`m ${key}=1`).errors[0].reason, "max key length exceeded: 65536 > 65535");
  assert.deepEqual(parse(`m ${key.slice(1)}=1`).errors, []);
});

Deno.test("line protocol: points of one series share one frozen tag array, across calls", () => {
  const cache = new LineProtocolCache();
  const a = parse("cpu,host=a,dc=x v=1\ncpu,host=b,dc=x v=1\ncpu,host=a,dc=x v=2", { cache });
  const b = parse("cpu,host=a,dc=x v=3", { cache });
  const [p0, p1, p2] = a.points;
  assert.equal(p0.tags, p2.tags);
  assert.equal(p0.tags, b.points[0].tags);
  assert.notEqual(p0.tags, p1.tags);
  assert.deepEqual(p0.tags, [{ key: "dc", value: "x" }, { key: "host", value: "a" }]);
  assert.equal(cache.size, 2);
  // The shared array is frozen: a caller cannot change one point's tags (and so every point of
  // the series and the cache) by accident; it builds a new array instead.
  assert.ok(Object.isFrozen(p0.tags));
  assert.ok(p0.tags.every((t) => Object.isFrozen(t))); // so seriesKey remembers the array whole
  assert.throws(() => (p0.tags as Tag[]).push({ key: "zz", value: "" }), TypeError);
  const mine = { ...p0, tags: [...p0.tags, { key: "zz", value: "added" }] };
  assert.equal(mine.tags.length, 3);
  assert.equal(parse("cpu,host=a,dc=x v=4", { cache }).points[0].tags.length, 2);
  // A bounded cache empties itself and keeps working.
  const small = new LineProtocolCache({ maxEntries: 2 });
  const lines = Array.from({ length: 10 }, (_, i) => `m,t=${i % 5} k${i % 3}=${i}`).join("\n");
  const r = parse(lines, { cache: small });
  assert.deepEqual(r.errors, []);
  assert.deepEqual(r.points.map((p) => `${p.tags[0].value}:${p.fields[0].key}`), [
    "0:k0",
    "1:k1",
    "2:k2",
    "3:k0",
    "4:k1",
    "0:k2",
    "1:k0",
    "2:k1",
    "3:k2",
    "4:k0",
  ]);
});

Deno.test("line protocol: a cached key still reports the errors of its line", () => {
  const { points, errors } = parse("cpu,h=a v=1\ncpu,h=a v=x\ncpu,h=a\ncpu,h=a v=2");
  assert.equal(points.length, 2);
  assert.deepEqual(errors.map((e) => e.reason), ["invalid boolean", "missing fields"]);
});

Deno.test("line protocol: completeLinesEnd stops before an unfinished line or string", () => {
  const cases: [string, number][] = [
    ["", 0],
    ["cpu v=1", 0],
    ["cpu v=1\n", 8],
    ["a v=1\nb v=2", 6],
    ['a v=1\nb s="x\ny', 6],
    ['a v=1\nb s="x\ny"\n', 16],
    ["a v=1\\\n", 0],
    ['# a="b\nc v=1\n', 13],
    [' \t# a="b\n', 9],
  ];
  for (const [text, end] of cases) assert.equal(completeLinesEnd(enc.encode(text)), end, text);
});

Deno.test("line protocol: the chunked decoder agrees with the one-shot parser", () => {
  const body = enc.encode(
    'cpu,host=a v=1 1\nbad line\nm s="multi\nline, with = signs" 2\r\n# c\n\nm v=2i 3\nm v=NaN\nlast v=1',
  );
  const whole = parse(new TextDecoder().decode(body));
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: body.length }), { maxLength: 6 }), (cuts) => {
      const points: Point[] = [];
      const errors: unknown[] = [];
      const decoder = new LineProtocolDecoder({ defaultTime: EPOCH });
      let at = 0;
      for (const cut of [...cuts].sort((x, y) => x - y)) {
        const r = decoder.push(body.subarray(at, cut));
        points.push(...r.points);
        errors.push(...r.errors);
        at = cut;
      }
      const r1 = decoder.push(body.subarray(at));
      const r2 = decoder.finish();
      points.push(...r1.points, ...r2.points);
      errors.push(...r1.errors, ...r2.errors);
      assert.deepEqual(points.map(show), whole.points.map(show));
      assert.deepEqual(errors, whole.errors);
      assert.equal(decoder.pendingBytes, 0);
    }),
    { numRuns: 200 },
  );
});

// ---------------------------------------------------------------------------------------------
// Property tests: any point formats to a line that parses back to the same point.

const NAME_CHARS = [..."abcxyzABC019_-.:/ ,=\"'é日🙂"];
const nameArb = fc.string({ unit: fc.constantFrom(...NAME_CHARS), minLength: 1, maxLength: 8 });
const valueArb = fc.string({ unit: "grapheme", maxLength: 12 }).chain((s) =>
  fc.constantFrom(s, s + '\\"\n,= \\', "\\")
);

const fieldValueArb: fc.Arbitrary<Omit<Field, "key">> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => ({
    type: FieldType.Float,
    value,
  })),
  fc.bigInt(INT64_MIN, INT64_MAX).map((v) => ({
    type: FieldType.Integer,
    value: compactInteger(v),
  })),
  fc.bigInt(0n, UINT64_MAX).map((v) => ({ type: FieldType.Unsigned, value: compactInteger(v) })),
  valueArb.map((value) => ({ type: FieldType.String, value })),
  fc.boolean().map((value) => ({ type: FieldType.Boolean, value })),
);

const pointArb: fc.Arbitrary<Point> = fc.record({
  measurement: nameArb.filter((s) => !s.startsWith("#")),
  tags: fc.uniqueArray(fc.record({ key: nameArb, value: nameArb }), {
    selector: (t) => t.key,
    maxLength: 4,
  }).map((tags: Tag[]) => tags.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))),
  fields: fc.uniqueArray(
    fc.tuple(nameArb, fieldValueArb).map(([key, v]) => ({ key, ...v }) as Field),
    { selector: (f) => f.key, minLength: 1, maxLength: 5 },
  ),
  time: fc.bigInt(MIN_TIME_NS, MAX_TIME_NS).map(instantFromNanos),
}).map(({ measurement, tags, fields, time }) => ({
  measurement,
  tags,
  fields,
  timeMs: time.ms,
  timeSubMs: time.subMs,
}));

Deno.test("line protocol: property: format then parse gives the same points", () => {
  fc.assert(
    fc.property(fc.array(pointArb, { minLength: 1, maxLength: 5 }), (points) => {
      const body = points.map((p) => formatLineProtocol(p)).join("\n");
      const r = parse(body);
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.points.map(show), points.map(show));
    }),
    { numRuns: 400 },
  );
});

Deno.test("line protocol: property: coarser precisions round-trip whole units", () => {
  const precisions: [Precision, bigint][] = [["u", 1000n], ["ms", 1_000_000n], [
    "s",
    1_000_000_000n,
  ], ["h", 3_600_000_000_000n]];
  fc.assert(
    fc.property(pointArb, fc.constantFrom(...precisions), (p, [precision, unit]) => {
      const ns = (BigInt(p.timeMs) * 1_000_000n + BigInt(p.timeSubMs)) / unit * unit;
      const t = instantFromNanos(ns);
      const point = { ...p, timeMs: t.ms, timeSubMs: t.subMs };
      const r = parse(formatLineProtocol(point, precision), { precision });
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.points.map(show), [show(point)]);
    }),
    { numRuns: 200 },
  );
});

Deno.test("line protocol: property: arbitrary bytes never throw, every line is accounted for", () => {
  const alphabet = fc.constantFrom(
    ...'cpu,h=a v1\\" \n\r\t#.-ie+tTfF0123456789'.split("").map((c) => c.charCodeAt(0)),
    0xc3,
    0xa9,
    0xff,
  );
  fc.assert(
    fc.property(fc.array(alphabet, { maxLength: 80 }), (bytes) => {
      const body = new Uint8Array(bytes);
      const { points, errors } = parseLineProtocol(body, { defaultTime: EPOCH });
      const lines = body.reduce((n, b) => n + (b === 10 ? 1 : 0), 1);
      assert.ok(points.length + errors.length <= lines);
      for (const e of errors) {
        assert.ok(e.line >= 1 && e.line <= lines && e.column >= 1, JSON.stringify(e));
        assert.ok(e.reason.length > 0);
      }
      for (const p of points) {
        assert.ok(p.measurement.length > 0 && p.fields.length > 0);
        assert.ok(p.timeSubMs >= 0 && p.timeSubMs < 1e6);
      }
    }),
    { numRuns: 1000 },
  );
});

Deno.test("a cache shared by several bodies keeps every field (regression)", () => {
  const cache = new LineProtocolCache();
  const enc = new TextEncoder();
  const options = { defaultTime: { ms: 0, subMs: 0 }, cache };
  parseLineProtocol(enc.encode("m v=1 1"), options);
  const second = parseLineProtocol(enc.encode("m v=2i 2\nm v=3 3"), options);
  assert.deepEqual(second.errors, []);
  assert.deepEqual(second.points.map((p) => p.fields), [
    [{ key: "v", type: FieldType.Integer, value: 2 }],
    [{ key: "v", type: FieldType.Float, value: 3 }],
  ]);
});

Deno.test("line protocol: lines end at every newline, at any alignment of the body", () => {
  // The newline search reads aligned 32-bit words: bodies at each byte offset of a buffer, with
  // lines of every length around a word, must split exactly as the text does.
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 0, max: 7 }),
      fc.boolean(),
      (pads, offset, trailingNewline) => {
        const lines = pads.map((n, i) => `m${"x".repeat(n)} v=${i}i ${i}`);
        const text = lines.join("\n") + (trailingNewline ? "\n" : "");
        const bytes = enc.encode(text);
        const backing = new Uint8Array(offset + bytes.length + 3);
        backing.set(bytes, offset);
        const { points, errors } = parseLineProtocol(
          backing.subarray(offset, offset + bytes.length),
          { defaultTime: EPOCH },
        );
        assert.deepEqual(errors, []);
        assert.deepEqual(
          points.map((p) => `${p.measurement} ${p.fields[0].value}`),
          lines.map(
            (l, i) => `${l.split(" ")[0]} ${i}`,
          ),
        );
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("line protocol: a series' remembered field keys never stand in for other keys", () => {
  // The parser first tries the field keys of the series' last line, position by position:
  // keys that are prefixes, extensions and escaped variants of one another, in shifting orders,
  // and a small cache (its field-key table is emptied and refilled) must parse as alone.
  const keys = ["v", "va", "v\\=a", "v\\ ", "v\\\\", "w", "v\\,x"];
  fc.assert(
    fc.property(
      fc.array(
        fc.array(fc.nat(keys.length - 1), { minLength: 1, maxLength: 4 }),
        { minLength: 1, maxLength: 20 },
      ),
      fc.integer({ min: 1, max: 5 }),
      (lines, maxEntries) => {
        const text = lines.map((picks, i) =>
          `cpu,h=a ${picks.map((k, j) => `${keys[k]}=${i * 10 + j}i`).join(",")} ${i}`
        ).join("\n");
        const cache = new LineProtocolCache({ maxEntries });
        const together = [...parse(text, { cache }).points, ...parse(text, { cache }).points];
        const alone = [text, text].flatMap((t) => t.split("\n")).flatMap((line) => {
          const { points, errors } = parse(line);
          return errors.length > 0 ? [] : points;
        });
        assert.deepEqual(together.map(show), alone.map(show));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("line protocol: the guessed next series never stands in for another key", () => {
  // The parser first tries the series that followed the last line's series last time: keys that
  // are prefixes, extensions and escaped-space variants of one another, repeated so guesses
  // nearly hit, with a small cache that empties itself, must parse as each line alone.
  const keys = ["cpu,h=a", "cpu,h=a,x=1", "cpu,h=ab", "cpu,h=a\\ b", "cpu,h=a\\\\ b", "cpu", "m"];
  fc.assert(
    fc.property(
      fc.array(fc.nat(keys.length - 1), { minLength: 1, maxLength: 40 }),
      fc.integer({ min: 1, max: 4 }),
      (picks, maxEntries) => {
        const lines = picks.map((k, i) => `${keys[k]} v=${i}i ${i}`);
        const text = [...lines, ...lines].join("\n");
        const cache = new LineProtocolCache({ maxEntries });
        const together = [...parse(text, { cache }).points, ...parse(text, { cache }).points];
        const alone = [text, text].flatMap((t) => t.split("\n")).flatMap((line) => {
          const { points, errors } = parse(line);
          return errors.length > 0 ? [] : points;
        });
        assert.deepEqual(together.map(show), alone.map(show));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("line protocol: a guess from before the cache was emptied is not trusted", () => {
  // The guess for the line after `cpu,h=x` is `cpu,h=a`, whose bytes sit right after `cpu,h=x`
  // in the cache's arena. Emptied and refilled by another body, the arena holds `mem,h=b` there.
  const cache = new LineProtocolCache();
  const decoder = new LineProtocolDecoder({ defaultTime: EPOCH, cache });
  decoder.push(enc.encode("cpu,h=x v=1\ncpu,h=a v=1\ncpu,h=x v=1\n"));
  cache.clear();
  parse("cpu,h=y v=1\nmem,h=b v=1", { cache });
  const { points } = decoder.push(enc.encode("mem,h=b v=2\n"));
  assert.deepEqual(points.map((p) => `${p.measurement},${p.tags[0].value}`), ["mem,b"]);
});

Deno.test("line protocol: series of a measurement share field-key guesses, any order still right", () => {
  const cache = new LineProtocolCache();
  const body = new TextEncoder().encode(
    'm,h=a x=1,y=2i 1\nm,h=b y=3i,x=4 1\nm,h=c x=5,z=true 1\nm,h=a y=6i,x=7 2\nn,h=a x="s" 1\n',
  );
  for (let round = 0; round < 2; round++) {
    const { points, errors } = parseLineProtocol(body, { defaultTime: { ms: 0, subMs: 0 }, cache });
    assert.deepEqual(errors, []);
    assert.deepEqual(
      points.map((p) => p.fields.map((f) => `${f.key}=${String(f.value)}`).join(",")),
      ["x=1,y=2", "y=3,x=4", "x=5,z=true", "y=6,x=7", "x=s"],
    );
  }
});

Deno.test("line protocol: names stay right while the bounded interning table cycles", () => {
  const cache = new LineProtocolCache({ maxEntries: 64 });
  const lines = Array.from({ length: 40 }, (_, i) => `cpu,host=h${i},region=eu v=1 1`).join("\n");
  const { points } = parseLineProtocol(new TextEncoder().encode(lines), {
    defaultTime: { ms: 0, subMs: 0 },
    cache,
  });
  assert.equal(points.length, 40);
  // maxEntries 64: the table holds 4 strings, so it empties every few series.
  assert.deepEqual(points[39].tags, [{ key: "host", value: "h39" }, {
    key: "region",
    value: "eu",
  }]);
  assert.deepEqual(points[3].tags, [{ key: "host", value: "h3" }, { key: "region", value: "eu" }]);
});

Deno.test("line protocol: a body of a byte or two at the unaligned end of its buffer parses", () => {
  // The newline search reads the body's aligned 32-bit words; a body shorter than its unaligned
  // head, at the end of its ArrayBuffer (a small chunk of a pooled network buffer), has none,
  // and asked for a view past the buffer's end (RangeError, a 500). Found by tests/fuzz.
  for (const text of ["m", "m\n", "\n", "#"]) {
    const bytes = enc.encode(text);
    for (let offset = 1; offset < 4; offset++) {
      const buffer = new Uint8Array(offset + bytes.length);
      buffer.set(bytes, offset);
      const body = buffer.subarray(offset);
      const { errors } = parseLineProtocol(body, { defaultTime: EPOCH });
      assert.ok(errors.length <= 1, text);
      const decoder = new LineProtocolDecoder({ defaultTime: EPOCH });
      decoder.push(body);
      decoder.finish();
    }
  }
});

Deno.test("line protocol: points of the same fields share one frozen layout, and only those", () => {
  const cache = new LineProtocolCache();
  const body = [
    "cpu,host=a u=1,s=2 1", // layout u,s (floats)
    "cpu,host=b u=3,s=4 1", // another series, same fields: the same layout
    "cpu,host=a s=5,u=6 2", // the same keys in another order: another layout
    "cpu,host=a u=7i,s=8 3", // u an integer: another layout
    "cpu,host=a u=9 4", // fewer fields
    "cpu,host=a u=10,s=11,u=12 5", // u given twice: the last value, the layout u,s
    'cpu,host=a u="x",s=13 6', // u a string
    "cpu,host=a u=14,s=15 7", // back to the first
  ].join("\n");
  const { points, errors } = parse(body, { cache });
  assert.deepEqual(errors, []);
  const packed = points.map((p) => {
    assert.ok(p instanceof PackedPoint, "the parser hands out packed points");
    return p;
  });
  const layouts = packed.map((p) => p.layout);
  assert.equal(layouts[1], layouts[0]);
  assert.equal(layouts[5], layouts[0]);
  assert.equal(layouts[7], layouts[0]);
  for (const i of [2, 3, 4, 6]) assert.notEqual(layouts[i], layouts[0], `line ${i + 1}`);
  assert.equal(new Set(layouts).size, 5);
  assert.deepEqual(
    packed.map((p) => p.fields.map((f) => `${f.key}:${f.type}=${f.value}`).join()),
    [
      "u:1=1,s:1=2",
      "u:1=3,s:1=4",
      "s:1=5,u:1=6",
      "u:2=7,s:1=8",
      "u:1=9",
      "u:1=12,s:1=11",
      "u:4=x,s:1=13",
      "u:1=14,s:1=15",
    ],
  );
  // Each point has values of its own; the shared layout cannot be changed through a point.
  assert.notEqual(packed[0].values, packed[1].values);
  assert.ok(Object.isFrozen(layouts[0]) && Object.isFrozen(layouts[0].keys));
  assert.ok(Object.isFrozen(layouts[0].types));
  assert.throws(() => (layouts[0].keys as string[]).push("z"), TypeError);
  assert.throws(() => (packed[0].fields as Field[]).push(packed[0].fields[0]), TypeError);
  // Across calls with the same cache: the same layout object.
  assert.equal(
    (parse("cpu,host=c u=1,s=1 1", { cache }).points[0] as PackedPoint).layout,
    layouts[0],
  );
});
