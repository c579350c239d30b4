import { equal, rejects } from "node:assert/strict";
import { ParseError } from "../core/errors.ts";
import { MemoryStore } from "./_memory_store_test_helper.ts";
import { encodeJson } from "./encode_json.ts";
import { executeQuery } from "./executor.ts";

// The reference data, written identically to InfluxDB 1.6.7 (apt, influxd on a private port)
// and to the in-memory store. Shard groups of one minute and two hash partitions per group
// make every query merge partial results from several shards.
const DATA = `
cpu,host=a,region=us usage=0.5,n=1i,s="x",b=true 1678886400000000000
cpu,host=a,region=us usage=1.0,n=2i 1678886410000000000
cpu,host=b,region=eu usage=0.25,n=3i 1678886420000000000
cpu,host=b,region=eu usage=0.75,n=4i 1678886470000000000
cpu,host=a,region=us usage=2.5,n=5i 1678886530000000000
mem,host=a free=10i 1678886400000000000
`;

const NOW = 1764000000000000000n; // 2025-11-24T16:00:00Z

async function newStore(): Promise<MemoryStore> {
  const store = new MemoryStore({ shardGroupNs: 60_000_000_000n, partitions: 2 });
  await store.createDatabase("db");
  store.writeLines("db", DATA);
  return store;
}

async function run(store: MemoryStore, q: string, epoch?: "ms"): Promise<string> {
  const results = await executeQuery(store, q, { database: "db", nowNs: NOW });
  return encodeJson(results, { epoch }).trimEnd();
}

// Every expected answer below is InfluxDB 1.6.7's exact response body for the same query on the
// same data (captured with curl from influxd 1.6.7).
const VERIFIED_AGAINST_INFLUXD_1_6_7: [string, string][] = [
  [
    "SELECT * FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","b","host","n","region","s","usage"],"values":[["2023-03-15T13:20:00Z",true,"a",1,"us","x",0.5],["2023-03-15T13:20:10Z",null,"a",2,"us",null,1],["2023-03-15T13:20:20Z",null,"b",3,"eu",null,0.25],["2023-03-15T13:21:10Z",null,"b",4,"eu",null,0.75],["2023-03-15T13:22:10Z",null,"a",5,"us",null,2.5]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:00Z",0.5],["2023-03-15T13:20:10Z",1],["2023-03-15T13:20:20Z",0.25],["2023-03-15T13:21:10Z",0.75],["2023-03-15T13:22:10Z",2.5]]}]}]}',
  ],
  [
    "SELECT usage, host FROM cpu WHERE usage > 0.6",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage","host"],"values":[["2023-03-15T13:20:10Z",1,"a"],["2023-03-15T13:21:10Z",0.75,"b"],["2023-03-15T13:22:10Z",2.5,"a"]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu LIMIT 2",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:00Z",0.5],["2023-03-15T13:20:10Z",1]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu GROUP BY host LIMIT 1",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","usage"],"values":[["2023-03-15T13:20:00Z",0.5]]},{"name":"cpu","tags":{"host":"b"},"columns":["time","usage"],"values":[["2023-03-15T13:20:20Z",0.25]]}]}]}',
  ],
  [
    "SELECT * FROM cpu GROUP BY host",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","b","n","region","s","usage"],"values":[["2023-03-15T13:20:00Z",true,1,"us","x",0.5],["2023-03-15T13:20:10Z",null,2,"us",null,1],["2023-03-15T13:22:10Z",null,5,"us",null,2.5]]},{"name":"cpu","tags":{"host":"b"},"columns":["time","b","n","region","s","usage"],"values":[["2023-03-15T13:20:20Z",null,3,"eu",null,0.25],["2023-03-15T13:21:10Z",null,4,"eu",null,0.75]]}]}]}',
  ],
  [
    "SELECT * FROM cpu GROUP BY *",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a","region":"us"},"columns":["time","b","n","s","usage"],"values":[["2023-03-15T13:20:00Z",true,1,"x",0.5],["2023-03-15T13:20:10Z",null,2,null,1],["2023-03-15T13:22:10Z",null,5,null,2.5]]},{"name":"cpu","tags":{"host":"b","region":"eu"},"columns":["time","b","n","s","usage"],"values":[["2023-03-15T13:20:20Z",null,3,null,0.25],["2023-03-15T13:21:10Z",null,4,null,0.75]]}]}]}',
  ],
  [
    "SELECT sum(n), mean(n), sum(usage), mean(usage), mean(usage) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","sum","mean","sum_1","mean_1","mean_2"],"values":[["1970-01-01T00:00:00Z",15,3,5,1,1]]}]}]}',
  ],
  [
    "SELECT max(usage) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","max"],"values":[["2023-03-15T13:22:10Z",2.5]]}]}]}',
  ],
  [
    "SELECT max(usage), min(usage) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","max","min"],"values":[["1970-01-01T00:00:00Z",2.5,0.25]]}]}]}',
  ],
  [
    "SELECT first(usage), last(usage) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","first","last"],"values":[["1970-01-01T00:00:00Z",0.5,2.5]]}]}]}',
  ],
  [
    "SELECT first(usage) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","first"],"values":[["2023-03-15T13:20:00Z",0.5]]}]}]}',
  ],
  [
    "SELECT last(s) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","last"],"values":[["2023-03-15T13:20:00Z","x"]]}]}]}',
  ],
  [
    "SELECT count(usage) FROM cpu WHERE time >= '2023-03-15T13:19:00Z' AND time < '2023-03-15T13:23:00Z' GROUP BY time(1m)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count"],"values":[["2023-03-15T13:19:00Z",0],["2023-03-15T13:20:00Z",3],["2023-03-15T13:21:00Z",1],["2023-03-15T13:22:00Z",1]]}]}]}',
  ],
  [
    "SELECT max(usage) FROM cpu WHERE time >= '2023-03-15T13:20:00Z' AND time < '2023-03-15T13:23:00Z' GROUP BY time(1m)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","max"],"values":[["2023-03-15T13:20:00Z",1],["2023-03-15T13:21:00Z",0.75],["2023-03-15T13:22:00Z",2.5]]}]}]}',
  ],
  [
    "SELECT mean(usage) FROM cpu WHERE time >= '2023-03-15T13:20:00Z'",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean"],"values":[["2023-03-15T13:20:00Z",1]]}]}]}',
  ],
  [
    "SELECT mean(usage) FROM cpu WHERE time > '2023-03-15T13:20:00Z'",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean"],"values":[["2023-03-15T13:20:00.000000001Z",1.125]]}]}]}',
  ],
  [
    "SELECT mean(usage) FROM cpu WHERE time >= '2023-03-15T13:20:00Z' AND time < '2023-03-15T13:23:00Z' GROUP BY time(1m), host fill(previous)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","mean"],"values":[["2023-03-15T13:20:00Z",0.75],["2023-03-15T13:21:00Z",0.75],["2023-03-15T13:22:00Z",2.5]]},{"name":"cpu","tags":{"host":"b"},"columns":["time","mean"],"values":[["2023-03-15T13:20:00Z",0.25],["2023-03-15T13:21:00Z",0.75],["2023-03-15T13:22:00Z",0.75]]}]}]}',
  ],
  [
    "SELECT mean(usage) FROM cpu WHERE time >= '2023-03-15T13:19:00Z' AND time < '2023-03-15T13:25:00Z' GROUP BY time(1m) fill(linear)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean"],"values":[["2023-03-15T13:19:00Z",null],["2023-03-15T13:20:00Z",0.5833333333333334],["2023-03-15T13:21:00Z",0.75],["2023-03-15T13:22:00Z",2.5],["2023-03-15T13:23:00Z",null],["2023-03-15T13:24:00Z",null]]}]}]}',
  ],
  [
    "SELECT mean(usage), max(n) FROM cpu WHERE time >= '2023-03-15T13:19:00Z' AND time < '2023-03-15T13:24:00Z' GROUP BY time(1m) fill(linear)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean","max"],"values":[["2023-03-15T13:19:00Z",null,null],["2023-03-15T13:20:00Z",0.5833333333333334,3],["2023-03-15T13:21:00Z",0.75,4],["2023-03-15T13:22:00Z",2.5,5],["2023-03-15T13:23:00Z",null,null]]}]}]}',
  ],
  [
    "SELECT count(usage) FROM cpu WHERE time >= '2023-03-15T13:19:00Z' AND time < '2023-03-15T13:22:00Z' GROUP BY time(1m) fill(5)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count"],"values":[["2023-03-15T13:19:00Z",5],["2023-03-15T13:20:00Z",3],["2023-03-15T13:21:00Z",1]]}]}]}',
  ],
  [
    "SELECT count(usage) FROM cpu WHERE time >= '2023-03-15T13:19:00Z' AND time < '2023-03-15T13:22:00Z' GROUP BY time(1m) fill(none)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count"],"values":[["2023-03-15T13:20:00Z",3],["2023-03-15T13:21:00Z",1]]}]}]}',
  ],
  [
    "SELECT derivative(mean(usage)) FROM cpu WHERE time >= '2023-03-15T13:19:00Z' AND time < '2023-03-15T13:24:00Z' GROUP BY time(1m)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","derivative"],"values":[["2023-03-15T13:21:00Z",0.16666666666666663],["2023-03-15T13:22:00Z",1.75]]}]}]}',
  ],
  [
    "SELECT derivative(mean(usage)), mean(usage) FROM cpu WHERE time >= '2023-03-15T13:19:00Z' AND time < '2023-03-15T13:24:00Z' GROUP BY time(1m)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","derivative","mean"],"values":[["2023-03-15T13:19:00Z",null,null],["2023-03-15T13:20:00Z",null,0.5833333333333334],["2023-03-15T13:21:00Z",0.16666666666666663,0.75],["2023-03-15T13:22:00Z",1.75,2.5],["2023-03-15T13:23:00Z",null,null]]}]}]}',
  ],
  [
    "SELECT derivative(usage) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","derivative"],"values":[["2023-03-15T13:20:10Z",0.05],["2023-03-15T13:20:20Z",-0.075],["2023-03-15T13:21:10Z",0.01],["2023-03-15T13:22:10Z",0.029166666666666667]]}]}]}',
  ],
  [
    "SELECT derivative(usage, 1m) FROM cpu GROUP BY host",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","derivative"],"values":[["2023-03-15T13:20:10Z",3],["2023-03-15T13:22:10Z",0.75]]},{"name":"cpu","tags":{"host":"b"},"columns":["time","derivative"],"values":[["2023-03-15T13:21:10Z",0.6]]}]}]}',
  ],
  [
    "SELECT non_negative_derivative(usage) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","non_negative_derivative"],"values":[["2023-03-15T13:20:10Z",0.05],["2023-03-15T13:21:10Z",0.01],["2023-03-15T13:22:10Z",0.029166666666666667]]}]}]}',
  ],
  [
    "SELECT difference(n) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","difference"],"values":[["2023-03-15T13:20:10Z",1],["2023-03-15T13:20:20Z",1],["2023-03-15T13:21:10Z",1],["2023-03-15T13:22:10Z",1]]}]}]}',
  ],
  [
    "SELECT cumulative_sum(n) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","cumulative_sum"],"values":[["2023-03-15T13:20:00Z",1],["2023-03-15T13:20:10Z",3],["2023-03-15T13:20:20Z",6],["2023-03-15T13:21:10Z",10],["2023-03-15T13:22:10Z",15]]}]}]}',
  ],
  [
    "SELECT moving_average(usage, 2) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","moving_average"],"values":[["2023-03-15T13:20:10Z",0.75],["2023-03-15T13:20:20Z",0.625],["2023-03-15T13:21:10Z",0.5],["2023-03-15T13:22:10Z",1.625]]}]}]}',
  ],
  [
    "SELECT median(n), mode(n), spread(n), stddev(n), percentile(n, 50), median(usage) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","median","mode","spread","stddev","percentile","median_1"],"values":[["1970-01-01T00:00:00Z",3,1,4,1.5811388300841898,3,0.75]]}]}]}',
  ],
  [
    "SELECT percentile(usage, 50) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","percentile"],"values":[["2023-03-15T13:21:10Z",0.75]]}]}]}',
  ],
  [
    "SELECT stddev(usage) FROM cpu WHERE host='b'",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","stddev"],"values":[["1970-01-01T00:00:00Z",0.3535533905932738]]}]}]}',
  ],
  [
    "SELECT stddev(usage) FROM cpu WHERE time = 1678886400000000000",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","stddev"],"values":[["2023-03-15T13:20:00Z",null]]}]}]}',
  ],
  [
    "SELECT mean(*) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean_n","mean_usage"],"values":[["1970-01-01T00:00:00Z",3,1]]}]}]}',
  ],
  [
    "SELECT count(*) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count_b","count_n","count_s","count_usage"],"values":[["1970-01-01T00:00:00Z",1,5,1,5]]}]}]}',
  ],
  [
    "SELECT usage/0, n/0, n/2, n%2, usage % 0.3, n * 2 FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage","n","n_1","n_2","usage_1","n_3"],"values":[["2023-03-15T13:20:00Z",0,0,0.5,1,0.2,2],["2023-03-15T13:20:10Z",0,0,1,0,0.10000000000000003,4],["2023-03-15T13:20:20Z",0,0,1.5,1,0.25,6],["2023-03-15T13:21:10Z",0,0,2,0,0.15000000000000002,8],["2023-03-15T13:22:10Z",0,0,2.5,1,0.10000000000000009,10]]}]}]}',
  ],
  [
    "SELECT usage * 100 AS pct, (usage + 1) * 2 FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","pct","usage"],"values":[["2023-03-15T13:20:00Z",50,3],["2023-03-15T13:20:10Z",100,4],["2023-03-15T13:20:20Z",25,2.5],["2023-03-15T13:21:10Z",75,3.5],["2023-03-15T13:22:10Z",250,7]]}]}]}',
  ],
  [
    "SELECT mean(usage) * 2, max(usage) - min(usage) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean","max_min"],"values":[["1970-01-01T00:00:00Z",2,2.25]]}]}]}',
  ],
  ["SELECT host FROM cpu", '{"results":[{"statement_id":0}]}'],
  [
    "SELECT percentile(usage) FROM cpu",
    '{"results":[{"statement_id":0,"error":"invalid number of arguments for percentile, expected 2, got 1"}]}',
  ],
  [
    "SELECT derivative(usage, 5) FROM cpu",
    '{"results":[{"statement_id":0,"error":"second argument to derivative must be a duration, got *influxql.IntegerLiteral"}]}',
  ],
  [
    "SELECT mean(usage, 1) FROM cpu",
    '{"results":[{"statement_id":0,"error":"invalid number of arguments for mean, expected 1, got 2"}]}',
  ],
  [
    "SELECT mean(s) FROM cpu",
    '{"results":[{"statement_id":0,"error":"unsupported mean iterator type: *query.stringInterruptIterator"}]}',
  ],
  [
    "SELECT sum(b) FROM cpu",
    '{"results":[{"statement_id":0,"error":"unsupported sum iterator type: *query.booleanInterruptIterator"}]}',
  ],
  [
    "SELECT foo(usage) FROM cpu",
    '{"results":[{"statement_id":0,"error":"undefined function foo()"}]}',
  ],
  [
    "SELECT mean(usage), usage FROM cpu",
    '{"results":[{"statement_id":0,"error":"mixing aggregate and non-aggregate queries is not supported"}]}',
  ],
  [
    "SELECT derivative(mean(usage)) FROM cpu",
    '{"results":[{"statement_id":0,"error":"derivative aggregate requires a GROUP BY interval"}]}',
  ],
  [
    "SELECT 'a' FROM cpu",
    '{"results":[{"statement_id":0,"error":"field must contain at least one variable"}]}',
  ],
  [
    "SELECT * FROM cpu WHERE time > 'abc'",
    '{"results":[{"statement_id":0,"error":"invalid operation: time and *influxql.StringLiteral are not compatible"}]}',
  ],
  [
    "SELECT usage FROM cpu WHERE host = 'a'",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:00Z",0.5],["2023-03-15T13:20:10Z",1],["2023-03-15T13:22:10Z",2.5]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu WHERE host != 'a'",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:20Z",0.25],["2023-03-15T13:21:10Z",0.75]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu WHERE host =~ /^b/",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:20Z",0.25],["2023-03-15T13:21:10Z",0.75]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu WHERE host !~ /^b/",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:00Z",0.5],["2023-03-15T13:20:10Z",1],["2023-03-15T13:22:10Z",2.5]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu WHERE host = 'a' OR usage < 0.5",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:00Z",0.5],["2023-03-15T13:20:10Z",1],["2023-03-15T13:20:20Z",0.25],["2023-03-15T13:22:10Z",2.5]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu WHERE (host = 'a' AND usage > 0.6) OR region = 'eu'",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:10Z",1],["2023-03-15T13:20:20Z",0.25],["2023-03-15T13:21:10Z",0.75],["2023-03-15T13:22:10Z",2.5]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu WHERE time > 1678886410s",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:20Z",0.25],["2023-03-15T13:21:10Z",0.75],["2023-03-15T13:22:10Z",2.5]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu WHERE time > 1678886410000ms AND time <= 1678886470000000000",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:20Z",0.25],["2023-03-15T13:21:10Z",0.75]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu WHERE time < now() - 1d",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:00Z",0.5],["2023-03-15T13:20:10Z",1],["2023-03-15T13:20:20Z",0.25],["2023-03-15T13:21:10Z",0.75],["2023-03-15T13:22:10Z",2.5]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu ORDER BY time DESC LIMIT 2 OFFSET 1",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:21:10Z",0.75],["2023-03-15T13:20:20Z",0.25]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu GROUP BY host ORDER BY time DESC",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"b"},"columns":["time","usage"],"values":[["2023-03-15T13:21:10Z",0.75],["2023-03-15T13:20:20Z",0.25]]},{"name":"cpu","tags":{"host":"a"},"columns":["time","usage"],"values":[["2023-03-15T13:22:10Z",2.5],["2023-03-15T13:20:10Z",1],["2023-03-15T13:20:00Z",0.5]]}]}]}',
  ],
  [
    "SELECT mean(usage) FROM cpu GROUP BY host",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",1.3333333333333333]]},{"name":"cpu","tags":{"host":"b"},"columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",0.5]]}]}]}',
  ],
  [
    "SELECT mean(usage) FROM cpu GROUP BY region, host",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a","region":"us"},"columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",1.3333333333333333]]},{"name":"cpu","tags":{"host":"b","region":"eu"},"columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",0.5]]}]}]}',
  ],
  [
    "SELECT max(usage) FROM cpu GROUP BY host",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","max"],"values":[["2023-03-15T13:22:10Z",2.5]]},{"name":"cpu","tags":{"host":"b"},"columns":["time","max"],"values":[["2023-03-15T13:21:10Z",0.75]]}]}]}',
  ],
  ["SELECT count(usage) FROM cpu WHERE time > now()", '{"results":[{"statement_id":0}]}'],
  [
    "SELECT * FROM cpu,mem",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","b","free","host","n","region","s","usage"],"values":[["2023-03-15T13:20:00Z",true,null,"a",1,"us","x",0.5],["2023-03-15T13:20:10Z",null,null,"a",2,"us",null,1],["2023-03-15T13:20:20Z",null,null,"b",3,"eu",null,0.25],["2023-03-15T13:21:10Z",null,null,"b",4,"eu",null,0.75],["2023-03-15T13:22:10Z",null,null,"a",5,"us",null,2.5]]},{"name":"mem","columns":["time","b","free","host","n","region","s","usage"],"values":[["2023-03-15T13:20:00Z",null,10,"a",null,null,null,null]]}]}]}',
  ],
  [
    "SELECT free FROM mem",
    '{"results":[{"statement_id":0,"series":[{"name":"mem","columns":["time","free"],"values":[["2023-03-15T13:20:00Z",10]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu SLIMIT 1",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:00Z",0.5],["2023-03-15T13:20:10Z",1],["2023-03-15T13:20:20Z",0.25],["2023-03-15T13:21:10Z",0.75],["2023-03-15T13:22:10Z",2.5]]}]}]}',
  ],
  // SLIMIT/SOFFSET apply per shard group, as in InfluxDB: b is the second host of the first
  // one-minute group only (the next group holds b alone, the last a alone).
  [
    "SELECT usage FROM cpu GROUP BY host SLIMIT 1 SOFFSET 1",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"b"},"columns":["time","usage"],"values":[["2023-03-15T13:20:20Z",0.25]]}]}]}',
  ],
  [
    "SELECT mean(usage) FROM cpu WHERE time >= '2023-03-15T13:20:00Z' AND time < '2023-03-15T13:23:00Z' GROUP BY time(1m, 30s)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean"],"values":[["2023-03-15T13:19:30Z",0.5833333333333334],["2023-03-15T13:20:30Z",0.75],["2023-03-15T13:21:30Z",2.5],["2023-03-15T13:22:30Z",null]]}]}]}',
  ],
  [
    "SELECT mean(usage) FROM cpu WHERE time >= '2023-03-15T13:20:00Z' AND time < '2023-03-15T13:23:00Z' GROUP BY time(1m) ORDER BY time DESC LIMIT 2",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean"],"values":[["2023-03-15T13:22:00Z",2.5],["2023-03-15T13:21:00Z",0.75]]}]}]}',
  ],
  [
    'SELECT usage FROM "cpu" WHERE "host" = \'a\'',
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:00Z",0.5],["2023-03-15T13:20:10Z",1],["2023-03-15T13:22:10Z",2.5]]}]}]}',
  ],
  [
    "SELECT usage FROM db.autogen.cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:00Z",0.5],["2023-03-15T13:20:10Z",1],["2023-03-15T13:20:20Z",0.25],["2023-03-15T13:21:10Z",0.75],["2023-03-15T13:22:10Z",2.5]]}]}]}',
  ],
  [
    "SELECT usage FROM db..cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:00Z",0.5],["2023-03-15T13:20:10Z",1],["2023-03-15T13:20:20Z",0.25],["2023-03-15T13:21:10Z",0.75],["2023-03-15T13:22:10Z",2.5]]}]}]}',
  ],
  ["SELECT * FROM nosuch", '{"results":[{"statement_id":0}]}'],
  [
    "SELECT * FROM db.nosuch.cpu",
    '{"results":[{"statement_id":0,"error":"retention policy not found: nosuch"}]}',
  ],
  [
    "SELECT mean(usage) FROM /c.*/ WHERE time >= '2023-03-15T13:20:00Z' AND time < '2023-03-15T13:23:00Z' GROUP BY time(1m) fill(none)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean"],"values":[["2023-03-15T13:20:00Z",0.5833333333333334],["2023-03-15T13:21:00Z",0.75],["2023-03-15T13:22:00Z",2.5]]}]}]}',
  ],
  [
    "SELECT sum(n) FROM cpu WHERE time >= '2023-03-15T13:20:00Z' AND time < '2023-03-15T13:23:00Z' GROUP BY time(1m), host fill(0)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","sum"],"values":[["2023-03-15T13:20:00Z",3],["2023-03-15T13:21:00Z",0],["2023-03-15T13:22:00Z",5]]},{"name":"cpu","tags":{"host":"b"},"columns":["time","sum"],"values":[["2023-03-15T13:20:00Z",3],["2023-03-15T13:21:00Z",4],["2023-03-15T13:22:00Z",0]]}]}]}',
  ],
  [
    "SELECT count(free), count(n) FROM cpu, mem",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count","count_1"],"values":[["1970-01-01T00:00:00Z",null,5]]},{"name":"mem","columns":["time","count","count_1"],"values":[["1970-01-01T00:00:00Z",1,null]]}]}]}',
  ],
  [
    "SELECT mean(usage) FROM cpu WHERE time >= '2023-03-16T00:00:00Z' AND time < '2023-03-16T00:03:00Z' GROUP BY time(1m)",
    '{"results":[{"statement_id":0}]}',
  ],
  [
    "SELECT mean(usage) FROM cpu WHERE host = 'a' AND time >= '2023-03-15T13:20:00Z' AND time < '2023-03-15T13:23:00Z' GROUP BY time(30s)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean"],"values":[["2023-03-15T13:20:00Z",0.75],["2023-03-15T13:20:30Z",null],["2023-03-15T13:21:00Z",null],["2023-03-15T13:21:30Z",null],["2023-03-15T13:22:00Z",2.5],["2023-03-15T13:22:30Z",null]]}]}]}',
  ],
  [
    "SELECT max(usage) FROM cpu WHERE time >= '2023-03-15T13:20:00Z' AND time < '2023-03-15T13:23:00Z' GROUP BY time(1m) fill(previous)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","max"],"values":[["2023-03-15T13:20:00Z",1],["2023-03-15T13:21:00Z",0.75],["2023-03-15T13:22:00Z",2.5]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu WHERE usage > 0.3 AND usage < 2",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:00Z",0.5],["2023-03-15T13:20:10Z",1],["2023-03-15T13:21:10Z",0.75]]}]}]}',
  ],
  [
    "SELECT n FROM cpu WHERE s = 'x'",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","n"],"values":[["2023-03-15T13:20:00Z",1]]}]}]}',
  ],
  [
    "SELECT b FROM cpu WHERE b = true",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","b"],"values":[["2023-03-15T13:20:00Z",true]]}]}]}',
  ],
  [
    "SELECT usage FROM cpu WHERE n >= 3",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:20Z",0.25],["2023-03-15T13:21:10Z",0.75],["2023-03-15T13:22:10Z",2.5]]}]}]}',
  ],
  [
    "SELECT usage, n FROM cpu WHERE host = 'b' ORDER BY time DESC",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage","n"],"values":[["2023-03-15T13:21:10Z",0.75,4],["2023-03-15T13:20:20Z",0.25,3]]}]}]}',
  ],
  [
    "SELECT count(usage) FROM cpu WHERE time >= '2023-03-15T13:20:00Z' AND time < '2023-03-15T13:23:00Z' GROUP BY time(1m) LIMIT 2 OFFSET 1",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count"],"values":[["2023-03-15T13:21:00Z",1],["2023-03-15T13:22:00Z",1]]}]}]}',
  ],
  [
    "SELECT last(usage) FROM cpu GROUP BY host",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"host":"a"},"columns":["time","last"],"values":[["2023-03-15T13:22:10Z",2.5]]},{"name":"cpu","tags":{"host":"b"},"columns":["time","last"],"values":[["2023-03-15T13:21:10Z",0.75]]}]}]}',
  ],
  [
    "SELECT min(n), max(n), sum(n), count(n) FROM cpu GROUP BY region",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"region":"eu"},"columns":["time","min","max","sum","count"],"values":[["1970-01-01T00:00:00Z",3,4,7,2]]},{"name":"cpu","tags":{"region":"us"},"columns":["time","min","max","sum","count"],"values":[["1970-01-01T00:00:00Z",1,5,8,3]]}]}]}',
  ],
  [
    "SELECT mean(n) + sum(n) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","mean_sum"],"values":[["1970-01-01T00:00:00Z",18]]}]}]}',
  ],
  [
    "SELECT mean(usage) AS m, mean(usage) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","m","mean"],"values":[["1970-01-01T00:00:00Z",1,1]]}]}]}',
  ],
  [
    "SELECT usage AS u, usage FROM cpu LIMIT 1",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","u","usage"],"values":[["2023-03-15T13:20:00Z",0.5,0.5]]}]}]}',
  ],
  [
    "SELECT spread(usage) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","spread"],"values":[["1970-01-01T00:00:00Z",2.25]]}]}]}',
  ],
  [
    "SELECT elapsed(usage, 1s) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","elapsed"],"values":[["2023-03-15T13:20:10Z",10],["2023-03-15T13:20:20Z",10],["2023-03-15T13:21:10Z",50],["2023-03-15T13:22:10Z",60]]}]}]}',
  ],
  [
    "SELECT non_negative_difference(usage) FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","non_negative_difference"],"values":[["2023-03-15T13:20:10Z",0.5],["2023-03-15T13:21:10Z",0.5],["2023-03-15T13:22:10Z",1.75]]}]}]}',
  ],
  [
    "SELECT moving_average(mean(usage), 2) FROM cpu WHERE time >= '2023-03-15T13:19:00Z' AND time < '2023-03-15T13:24:00Z' GROUP BY time(1m)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","moving_average"],"values":[["2023-03-15T13:21:00Z",0.6666666666666667],["2023-03-15T13:22:00Z",1.625]]}]}]}',
  ],
  [
    "SELECT cumulative_sum(sum(n)) FROM cpu WHERE time >= '2023-03-15T13:19:00Z' AND time < '2023-03-15T13:24:00Z' GROUP BY time(1m)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","cumulative_sum"],"values":[["2023-03-15T13:20:00Z",6],["2023-03-15T13:21:00Z",10],["2023-03-15T13:22:00Z",15]]}]}]}',
  ],
  [
    "SELECT difference(max(n)) FROM cpu WHERE time >= '2023-03-15T13:19:00Z' AND time < '2023-03-15T13:24:00Z' GROUP BY time(1m)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","difference"],"values":[["2023-03-15T13:21:00Z",1],["2023-03-15T13:22:00Z",1]]}]}]}',
  ],
  [
    "SELECT * FROM cpu WHERE time > '2023-03-15T13:20:00Z' AND time < '2023-03-15 13:22:00'",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","b","host","n","region","s","usage"],"values":[["2023-03-15T13:20:10Z",null,"a",2,"us",null,1],["2023-03-15T13:20:20Z",null,"b",3,"eu",null,0.25],["2023-03-15T13:21:10Z",null,"b",4,"eu",null,0.75]]}]}]}',
  ],
  ["SELECT usage FROM cpu WHERE host = 'nobody'", '{"results":[{"statement_id":0}]}'],
  ["SELECT usage FROM cpu WHERE nofield = 'x'", '{"results":[{"statement_id":0}]}'],
  ["SELECT nofield FROM cpu", '{"results":[{"statement_id":0}]}'],
  ["SELECT mean(nofield) FROM cpu", '{"results":[{"statement_id":0}]}'],
  [
    "SELECT usage FROM cpu WHERE time > now() - 5000d",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:00Z",0.5],["2023-03-15T13:20:10Z",1],["2023-03-15T13:20:20Z",0.25],["2023-03-15T13:21:10Z",0.75],["2023-03-15T13:22:10Z",2.5]]}]}]}',
  ],
  [
    'SELECT "usage" FROM "db"."autogen"."cpu" WHERE "host" =~ /(?i)A/',
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:20:00Z",0.5],["2023-03-15T13:20:10Z",1],["2023-03-15T13:22:10Z",2.5]]}]}]}',
  ],
  [
    "SELECT first(n), host FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","first","host"],"values":[["2023-03-15T13:20:00Z",1,"a"]]}]}]}',
  ],
  [
    "SELECT max(usage), host FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","max","host"],"values":[["2023-03-15T13:22:10Z",2.5,"a"]]}]}]}',
  ],
  [
    "SELECT max(usage), host, n FROM cpu GROUP BY region",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"region":"eu"},"columns":["time","max","host","n"],"values":[["2023-03-15T13:21:10Z",0.75,"b",4]]},{"name":"cpu","tags":{"region":"us"},"columns":["time","max","host","n"],"values":[["2023-03-15T13:22:10Z",2.5,"a",5]]}]}]}',
  ],
  [
    "SELECT min(usage), region FROM cpu WHERE time >= '2023-03-15T13:20:00Z' AND time < '2023-03-15T13:23:00Z' GROUP BY time(1m)",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","min","region"],"values":[["2023-03-15T13:20:00Z",0.25,"eu"],["2023-03-15T13:21:00Z",0.75,"eu"],["2023-03-15T13:22:00Z",2.5,"us"]]}]}]}',
  ],
  [
    "SELECT last(usage), s FROM cpu",
    '{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","last","s"],"values":[["2023-03-15T13:22:10Z",2.5,null]]}]}]}',
  ],
  [
    "SELECT mean(usage), host FROM cpu",
    '{"results":[{"statement_id":0,"error":"mixing aggregate and non-aggregate queries is not supported"}]}',
  ],
];

Deno.test("executor answers as InfluxDB 1.6.7 does (verified query by query)", async () => {
  const store = await newStore();
  for (const [q, want] of VERIFIED_AGAINST_INFLUXD_1_6_7) equal(await run(store, q), want, q);
});

// SHOW answers, verified against influxd 1.6.7 on a server holding only this database.
const SHOW_CASES: [string, string][] = [
  [
    "SHOW DATABASES",
    `{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["db"]]}]}]}`,
  ],
  [
    "SHOW MEASUREMENTS",
    `{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["cpu"],["mem"]]}]}]}`,
  ],
  [
    "SHOW MEASUREMENTS WITH MEASUREMENT =~ /c.*/",
    `{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["cpu"]]}]}]}`,
  ],
  [
    "SHOW MEASUREMENTS WHERE host = 'b'",
    `{"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["cpu"]]}]}]}`,
  ],
  [
    "SHOW TAG KEYS",
    `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["tagKey"],"values":[["host"],["region"]]},{"name":"mem","columns":["tagKey"],"values":[["host"]]}]}]}`,
  ],
  [
    "SHOW TAG KEYS FROM cpu",
    `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["tagKey"],"values":[["host"],["region"]]}]}]}`,
  ],
  ["SHOW TAG KEYS FROM nosuch", `{"results":[{"statement_id":0}]}`],
  [
    "SHOW TAG VALUES WITH KEY = host",
    `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["key","value"],"values":[["host","a"],["host","b"]]},{"name":"mem","columns":["key","value"],"values":[["host","a"]]}]}]}`,
  ],
  [
    "SHOW TAG VALUES FROM cpu WITH KEY IN (host, region)",
    `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["key","value"],"values":[["host","a"],["host","b"],["region","eu"],["region","us"]]}]}]}`,
  ],
  [
    "SHOW TAG VALUES WITH KEY =~ /reg/",
    `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["key","value"],"values":[["region","eu"],["region","us"]]}]}]}`,
  ],
  [
    "SHOW TAG VALUES WITH KEY = host WHERE region = 'eu'",
    `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["key","value"],"values":[["host","b"]]}]}]}`,
  ],
  [
    "SHOW FIELD KEYS",
    `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["fieldKey","fieldType"],"values":[["b","boolean"],["n","integer"],["s","string"],["usage","float"]]},{"name":"mem","columns":["fieldKey","fieldType"],"values":[["free","integer"]]}]}]}`,
  ],
  [
    "SHOW SERIES",
    `{"results":[{"statement_id":0,"series":[{"columns":["key"],"values":[["cpu,host=a,region=us"],["cpu,host=b,region=eu"],["mem,host=a"]]}]}]}`,
  ],
  [
    "SHOW RETENTION POLICIES",
    `{"results":[{"statement_id":0,"series":[{"columns":["name","duration","shardGroupDuration","replicaN","default"],"values":[["autogen","0s","1m0s",1,true]]}]}]}`,
  ],
  ["SHOW MEASUREMENTS ON nosuch", `{"results":[{"statement_id":0}]}`],
  [
    "SHOW TAG KEYS ON nosuch",
    `{"results":[{"statement_id":0,"error":"database not found: nosuch"}]}`,
  ],
  [
    "SHOW RETENTION POLICIES ON nosuch",
    `{"results":[{"statement_id":0,"error":"database not found: nosuch"}]}`,
  ],
];

Deno.test("SHOW statements answer as InfluxDB 1.6.7", async () => {
  const store = await newStore();
  for (const [q, want] of SHOW_CASES) equal(await run(store, q), want, q);
});

Deno.test("a failed statement stops the rest: `not executed`", async () => {
  const store = await newStore();
  equal(
    await run(store, "SHOW DATABASES; SELECT * FROM nodb.autogen.cpu; SHOW DATABASES"),
    `{"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"],"values":[["db"]]}]},{"statement_id":1,"error":"database not found: nodb"},{"statement_id":2,"error":"not executed"}]}`,
  );
});

Deno.test("database required / not found, retention policy not found", async () => {
  const store = await newStore();
  const noDb = await executeQuery(store, "SELECT * FROM cpu; SHOW MEASUREMENTS", { nowNs: NOW });
  equal(noDb[0].error, "database name required");
  const missing = await executeQuery(store, "SELECT * FROM cpu", { database: "x", nowNs: NOW });
  equal(missing[0].error, "database not found: x");
  equal(
    await run(store, "SELECT * FROM db.nosuch.cpu"),
    `{"results":[{"statement_id":0,"error":"retention policy not found: nosuch"}]}`,
  );
});

Deno.test("CREATE and DROP DATABASE; GET adds InfluxDB 1.6's deprecation warning", async () => {
  const store = await newStore();
  const r = await executeQuery(store, "CREATE DATABASE x", { nowNs: NOW, readOnly: true });
  equal(
    encodeJson(r).trimEnd(),
    `{"results":[{"statement_id":0,"messages":[{"level":"warning","text":"deprecated use of 'CREATE DATABASE x' in a read only context, please use a POST request instead"}]}]}`,
  );
  equal(store.databases().join(","), "db,x");
  await executeQuery(store, 'DROP DATABASE "x"', { nowNs: NOW });
  equal(store.databases().join(","), "db");
});

Deno.test("bind parameters", async () => {
  const store = await newStore();
  const r = await executeQuery(store, "SELECT usage FROM cpu WHERE host = $h AND time > $t", {
    database: "db",
    nowNs: NOW,
    params: { h: "b", t: "2023-03-15T13:20:20Z" },
  });
  equal(
    encodeJson(r).trimEnd(),
    `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[["2023-03-15T13:21:10Z",0.75]]}]}]}`,
  );
  // InfluxDB 1.6.7 answers a missing parameter as a parse error (400), before running anything.
  await rejects(
    executeQuery(store, "SELECT usage FROM cpu WHERE host = $h", { database: "db", nowNs: NOW }),
    (e) => e instanceof ParseError && e.message === "missing parameter: h",
  );
});

Deno.test("GROUP BY time without an upper bound ends at now()", async () => {
  const store = await newStore();
  const now = 1678886400000000000n + 5n * 60_000_000_000n; // 13:25:00
  const r = await executeQuery(store, "SELECT count(usage) FROM cpu GROUP BY time(1m)", {
    database: "db",
    nowNs: now,
  });
  // From the first point's bucket (no lower bound) to now's bucket, count 0 when empty.
  equal(
    encodeJson(r, { epoch: "s" }).trimEnd(),
    `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","count"],"values":[[1678886400,3],[1678886460,1],[1678886520,1],[1678886580,0],[1678886640,0],[1678886700,0]]}]}]}`,
  );
});

Deno.test("epoch=ms answers integer times", async () => {
  const store = await newStore();
  equal(
    await run(store, "SELECT usage FROM cpu LIMIT 1", "ms"),
    `{"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","usage"],"values":[[1678886400000,0.5]]}]}]}`,
  );
});

Deno.test("integers stay exact beyond 2^53; sums of integers stay integers", async () => {
  const store = new MemoryStore();
  await store.createDatabase("db");
  store.writeLines(
    "db",
    `big v=9223372036854775807i 1000000000
big v=-9223372036854775807i 2000000000
big v=9007199254740993i 3000000000`,
  );
  equal(
    await run(store, "SELECT v FROM big"),
    `{"results":[{"statement_id":0,"series":[{"name":"big","columns":["time","v"],"values":[["1970-01-01T00:00:01Z",9223372036854775807],["1970-01-01T00:00:02Z",-9223372036854775807],["1970-01-01T00:00:03Z",9007199254740993]]}]}]}`,
  );
  equal(
    await run(store, "SELECT sum(v), max(v), last(v) FROM big"),
    `{"results":[{"statement_id":0,"series":[{"name":"big","columns":["time","sum","max","last"],"values":[["1970-01-01T00:00:00Z",9007199254740993,9223372036854775807,9007199254740993]]}]}]}`,
  );
});

Deno.test("raw rows of equal time are ordered by series key (verified against influxd 1.6.7)", async () => {
  const store = new MemoryStore({ partitions: 3 });
  await store.createDatabase("db");
  store.writeLines(
    "db",
    "tie,host=b v=2 1000000000\ntie,host=a v=1 1000000000\ntie,host=c v=3 1000000000",
  );
  equal(
    await run(store, "SELECT v, host FROM tie"),
    `{"results":[{"statement_id":0,"series":[{"name":"tie","columns":["time","v","host"],"values":[["1970-01-01T00:00:01Z",1,"a"],["1970-01-01T00:00:01Z",2,"b"],["1970-01-01T00:00:01Z",3,"c"]]}]}]}`,
  );
});

Deno.test("sub-millisecond times and GROUP BY time(100u)", async () => {
  const store = new MemoryStore();
  await store.createDatabase("db");
  store.writeLines(
    "db",
    `t v=1 1678886400000000001
t v=2 1678886400000150000
t v=4 1678886400000250999`,
  );
  equal(
    await run(
      store,
      "SELECT sum(v) FROM t WHERE time >= 1678886400000000000 AND time < 1678886400000300000 GROUP BY time(100u)",
    ),
    `{"results":[{"statement_id":0,"series":[{"name":"t","columns":["time","sum"],"values":[["2023-03-15T13:20:00Z",1],["2023-03-15T13:20:00.0001Z",2],["2023-03-15T13:20:00.0002Z",4]]}]}]}`,
  );
  equal(
    await run(store, "SELECT v FROM t WHERE time > 1678886400000000001 LIMIT 1"),
    `{"results":[{"statement_id":0,"series":[{"name":"t","columns":["time","v"],"values":[["2023-03-15T13:20:00.00015Z",2]]}]}]}`,
  );
});
