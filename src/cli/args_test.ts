import assert from "node:assert/strict";
import { optionsHelp, type OptionSpec, parseArgs } from "./args.ts";
import { defaultServerUrl } from "./command.ts";

const OPTIONS: OptionSpec[] = [
  { name: "url", value: "URL", help: "the server" },
  { name: "db", short: "d", value: "NAME", help: "the database" },
  { name: "pretty", switch: true, help: "indent" },
];

Deno.test("parseArgs: values, =values, switches, -h/--help anywhere, - and -- as positionals", () => {
  assert.deepEqual(parseArgs(["SELECT 1", "--url", "http://x", "--db=a", "--pretty"], OPTIONS), {
    flags: { url: "http://x", db: "a", pretty: "true" },
    positional: ["SELECT 1"],
    help: false,
  });
  assert.equal(parseArgs(["a", "-h"], OPTIONS).help, true);
  assert.equal(parseArgs(["--help", "--url", "u"], OPTIONS).help, true);
  assert.deepEqual(parseArgs(["-d", "x", "-", "-5"], OPTIONS).positional, ["-", "-5"]);
  assert.deepEqual(parseArgs(["--", "--url", "-h"], OPTIONS), {
    flags: {},
    positional: ["--url", "-h"],
    help: false,
  });
  assert.deepEqual(parseArgs(["--pretty=false"], OPTIONS).flags, { pretty: "false" });
});

Deno.test("parseArgs: unknown options and missing values are usage errors that name them", () => {
  assert.throws(() => parseArgs(["--nope"], OPTIONS), /unknown option --nope/);
  assert.throws(() => parseArgs(["-x"], OPTIONS), /unknown option -x/);
  assert.throws(() => parseArgs(["--url"], OPTIONS), /option --url needs a value/);
  assert.throws(() => parseArgs(["--pretty=yes"], OPTIONS), /--pretty is a switch/);
});

Deno.test("optionsHelp lists every option and -h, aligned", () => {
  assert.equal(
    optionsHelp(OPTIONS),
    [
      "      --url URL  the server",
      "  -d, --db NAME  the database",
      "      --pretty   indent",
      "  -h, --help     this help",
    ].join("\n"),
  );
});

Deno.test("the default server: EPOCHNEXUS_BIND_ADDRESS's, a wildcard host as localhost", () => {
  assert.equal(defaultServerUrl(undefined), "http://localhost:8080");
  assert.equal(defaultServerUrl("0.0.0.0:8086"), "http://localhost:8086");
  assert.equal(defaultServerUrl("127.0.0.1:9999"), "http://127.0.0.1:9999");
  assert.equal(defaultServerUrl("[::]:8080"), "http://localhost:8080");
  assert.equal(defaultServerUrl("[::1]:8080"), "http://[::1]:8080");
  assert.equal(defaultServerUrl(":8080"), "http://localhost:8080");
});
