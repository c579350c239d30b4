import assert from "node:assert/strict";
import { serveHttp } from "./http_server.ts";
import { upgradeDialer } from "./upgrade_socket.ts";
import net from "node:net";

Deno.test("http server: a streamed answer goes out as produced, a buffered one with its length", async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const server = await serveHttp((request) => {
    if (new URL(request.url).pathname === "/buffered") {
      return Promise.resolve(Response.json({ ok: true }));
    }
    const enc = new TextEncoder();
    return Promise.resolve(
      new Response(
        new ReadableStream({
          async start(controller) {
            controller.enqueue(enc.encode("first\n"));
            await gate; // the second part waits until the client has seen the first
            controller.enqueue(enc.encode("second\n"));
            controller.close();
          },
        }),
      ),
    );
  }, { hostname: "127.0.0.1", port: 0 });
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let firstPart: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  try {
    const buffered = await fetch(`http://127.0.0.1:${server.port}/buffered`);
    assert.equal(buffered.headers.get("content-length"), "11");
    assert.deepEqual(await buffered.json(), { ok: true });

    // Headers and the first part must arrive while the rest is still being produced.
    firstPart = (async () => {
      const streamed = await fetch(`http://127.0.0.1:${server.port}/streamed`);
      reader = streamed.body!.getReader();
      return await reader.read();
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const first = await Promise.race([
      firstPart,
      new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 10_000))),
    ]);
    clearTimeout(timer);
    assert.ok(first, "the first part was held back until the answer ended");
    assert.equal(new TextDecoder().decode(first.value), "first\n");
    release();
    let rest = "";
    for (let r = await reader!.read(); !r.done; r = await reader!.read()) {
      rest += new TextDecoder().decode(r.value);
    }
    assert.equal(rest, "second\n");
  } finally {
    release();
    await firstPart?.catch(() => {}); // released: the answer starts, if it had not
    await reader?.cancel(); // a failed run leaves the answer unread: drop the connection
    await server.shutdown();
  }
});

/** What `promise` settles with, or `late` when it takes longer than `ms`. */
async function within<T>(promise: Promise<T>, ms: number, late: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<T>((r) => (timer = setTimeout(() => r(late), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("http server: the request's signal aborts when the client goes away", async () => {
  let aborted!: () => void;
  const sawAbort = new Promise<void>((r) => (aborted = r));
  let started!: () => void;
  const handling = new Promise<void>((r) => (started = r));
  const server = await serveHttp(async (request) => {
    request.signal.addEventListener("abort", () => aborted());
    started();
    await sawAbort; // a long query, killed when its client leaves
    return new Response("late");
  }, { hostname: "127.0.0.1", port: 0 });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(new TextEncoder().encode("GET /query HTTP/1.1\r\nhost: x\r\n\r\n"));
    await handling;
    conn.close();
    const inTime = await within(sawAbort.then(() => true), 10_000, false);
    assert.ok(inTime, "the handler's signal did not abort within 10 s of the client leaving");
  } finally {
    aborted();
    await server.shutdown();
  }
});

Deno.test("http server: a direct answer's signal aborts when the client goes away; it is dropped as aborted", async () => {
  let dropped!: (aborted: boolean) => void;
  const sent = new Promise<boolean>((r) => (dropped = r));
  let started!: () => void;
  const handling = new Promise<void>((r) => (started = r));
  const server = await serveHttp(() => Promise.resolve(new Response("not direct")), {
    hostname: "127.0.0.1",
    port: 0,
    direct: (request) => {
      started();
      // A long query, killed when its client leaves: its (late) answer is then dropped.
      return new Promise((resolve) =>
        request.signal.addEventListener("abort", () =>
          resolve({
            status: 200,
            headers: {},
            body: new TextEncoder().encode("late"),
            sent: dropped,
          }))
      );
    },
  });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(new TextEncoder().encode("GET /query HTTP/1.1\r\nhost: x\r\n\r\n"));
    await handling;
    conn.close();
    const outcome = await within<boolean | string>(sent, 10_000, "not sent within 10 s");
    assert.equal(outcome, true, "the answer was dropped as aborted");
  } finally {
    dropped(false);
    await server.shutdown();
  }
});

Deno.test("http server: a small answer of declared length is sent whole with its true length", async () => {
  const enc = new TextEncoder();
  const server = await serveHttp((request) => {
    const path = new URL(request.url).pathname;
    const headers = { "content-length": path === "/wrong" ? "3" : "5" };
    if (path === "/stream") {
      // A stream declaring its length takes the same path: read whole, then written.
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(enc.encode("he"));
          controller.enqueue(enc.encode("llo"));
          controller.close();
        },
      });
      return Promise.resolve(new Response(body, { headers }));
    }
    return Promise.resolve(new Response(enc.encode("hello"), { status: 201, headers }));
  }, { hostname: "127.0.0.1", port: 0 });
  try {
    for (const path of ["/bytes", "/stream", "/wrong"]) {
      const r = await fetch(`http://127.0.0.1:${server.port}${path}`);
      assert.equal(r.headers.get("content-length"), "5", path);
      assert.equal(await r.text(), "hello", path);
      assert.equal(r.status, path === "/stream" ? 200 : 201, path);
    }
    const head = await fetch(`http://127.0.0.1:${server.port}/bytes`, { method: "HEAD" });
    assert.equal(head.headers.get("content-length"), "5");
    assert.equal(await head.text(), "");
  } finally {
    await server.shutdown();
  }
});

Deno.test("http server: an upgraded connection outlives the header and idle timeouts; shutdown closes it", async () => {
  const server = await serveHttp(() => Promise.resolve(new Response("plain")), {
    hostname: "127.0.0.1",
    port: 0,
    headerTimeoutMs: 100,
    idleTimeoutMs: 100,
    upgrade: (request) =>
      request.protocol === "echo"
        ? {
          status: 101,
          serve: (channel) => channel.start((chunk) => channel.write(chunk), () => {}),
        }
        : { status: 404, body: "no such protocol" },
  });
  const dial = upgradeDialer();
  const url = `http://127.0.0.1:${server.port}/x`;
  try {
    const refused = await dial({ url, protocol: "other", headers: {}, timeoutMs: 5_000 });
    assert.deepEqual([refused.status, refused.body], [404, "no such protocol"]);
    const outcome = await dial({ url, protocol: "echo", headers: {}, timeoutMs: 5_000 });
    assert.equal(outcome.status, 101);
    const channel = outcome.channel!;
    const got: number[] = [];
    let ended = false;
    channel.start((chunk) => got.push(...chunk), () => ended = true);
    // Longer than both timeouts (node:http checks them every 50 ms here), silent meanwhile.
    await new Promise((r) => setTimeout(r, 700));
    await channel.write(new Uint8Array([1, 2, 3]));
    const deadline = performance.now() + 5_000;
    while (got.length < 3 && !ended && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(got, [1, 2, 3], `ended: ${ended}`);
    await server.shutdown();
    while (!ended && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(ended, "shutdown closed the upgraded connection");
  } finally {
    await server.shutdown();
  }
});

Deno.test("http server: clients that reset a refused upgrade do not take the process down", async () => {
  const server = await serveHttp(() => Promise.resolve(new Response("plain")), {
    hostname: "127.0.0.1",
    port: 0,
    upgrade: () => ({ status: 401, body: "no secret\n".repeat(50) }),
  });
  try {
    // Anyone who reaches the port can do this before any secret is checked.
    for (let i = 0; i < 30; i++) {
      await new Promise<void>((resolve) => {
        const socket = net.connect(server.port, "127.0.0.1", () => {
          socket.write(
            "GET /peer HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: p\r\n\r\n",
          );
          setTimeout(() => {
            socket.resetAndDestroy();
            resolve();
          }, i % 3);
        });
        socket.on("error", () => {});
      });
    }
    await new Promise((r) => setTimeout(r, 300)); // the resets reach the server
    const answer = await fetch(`http://127.0.0.1:${server.port}/`);
    assert.equal(await answer.text(), "plain");
  } finally {
    await server.shutdown();
  }
});

/** Sends `head` on a raw connection and gives back what came within `ms` (bounded reads). */
async function firstAnswer(port: number, head: string, body: Uint8Array | undefined, ms: number) {
  const socket = net.connect(port, "127.0.0.1");
  let got = "";
  socket.on("data", (chunk: Uint8Array) => (got += new TextDecoder().decode(chunk)));
  socket.on("error", () => {});
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.write(head);
  const deadline = Date.now() + ms;
  const waitFor = async (done: () => boolean) => {
    while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  };
  await waitFor(() => got.includes("\r\n\r\n"));
  if (body !== undefined && got.startsWith("HTTP/1.1 100")) {
    socket.write(body);
    await waitFor(() => /HTTP\/1\.1 [2-5]\d\d/.test(got));
  }
  socket.destroy();
  return got;
}

Deno.test("http server: 'Expect: 100-continue' is answered 100 only when the body is read; a refusal comes alone", async () => {
  const server = await serveHttp(async (request) => {
    if (new URL(request.url).pathname === "/refuse") {
      return new Response("no such database\n", { status: 404 });
    }
    const bytes = new Uint8Array(await request.arrayBuffer());
    return new Response(`read ${bytes.length}\n`);
  }, { hostname: "127.0.0.1", port: 0 });
  try {
    const length = 300_000; // larger than one small read: the body is streamed, not read early
    const head = (path: string) =>
      `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n` +
      "Expect: 100-continue\r\n\r\n";
    const refused = await firstAnswer(server.port, head("/refuse"), undefined, 3000);
    assert.match(refused, /^HTTP\/1\.1 404 /, `a 100 before the refusal: ${refused.slice(0, 60)}`);
    const read = await firstAnswer(server.port, head("/read"), new Uint8Array(length), 5000);
    assert.match(read, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, read.slice(0, 80));
    assert.match(read, /read 300000/);
  } finally {
    await server.shutdown();
  }
});

/**
 * Sends a POST of `length` bytes without `Expect`, the body in 64 KiB pieces `pauseMs` apart
 * after the headers, reading all the while; the text read and how the connection ended.
 */
function slowUpload(
  port: number,
  length: number,
  pauseMs: number,
  path = "/refuse",
): Promise<{ text: string; ended: string }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "", ended = "";
    const finish = (how: string) => {
      if (ended) return;
      ended = how;
      clearTimeout(limit);
      socket.destroy();
      resolve({ text, ended });
    };
    const limit = setTimeout(() => finish("timeout"), 20_000);
    socket.on("data", (chunk: Uint8Array) => {
      text += new TextDecoder().decode(chunk);
    });
    socket.on("error", (error: Error & { code?: string }) => finish(error.code ?? error.message));
    socket.on("close", () => finish("closed"));
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n\r\n`);
    const piece = new Uint8Array(64 * 1024);
    let sent = 0;
    const next = () => {
      if (ended) return;
      if (sent >= length) {
        // Everything sent: the answer is read (or was), then the client leaves.
        setTimeout(() => finish(text.includes("\r\n\r\n") ? "answered" : "no answer"), 500);
        return;
      }
      const n = Math.min(piece.length, length - sent);
      sent += n;
      socket.write(piece.subarray(0, n), () => setTimeout(next, pauseMs));
    };
    next();
  });
}

Deno.test("http server: a refusal before the body is read reaches a client still sending it", async () => {
  const server = await serveHttp(async (request) => {
    // /refuse?after=read: the handler reads a piece of the body before refusing.
    if (new URL(request.url).searchParams.has("after")) await request.body!.getReader().read();
    return new Response("no such database\n", { status: 404 });
  }, { hostname: "127.0.0.1", port: 0 });
  try {
    // 3 MiB sent over ~1 s: drained after the 404, the connection kept; before, it was closed
    // with the body unread and the client's next write (or read) met a reset.
    const drained = await slowUpload(server.port, 3 * 1024 * 1024, 10);
    assert.equal(drained.ended, "answered", `the upload ended so, having read ${drained.text}`);
    assert.match(drained.text, /^HTTP\/1\.1 404 /, drained.text);
    assert.doesNotMatch(drained.text, /connection: close/i);
    const partly = await slowUpload(server.port, 3 * 1024 * 1024, 10, "/refuse?after=read");
    assert.equal(partly.ended, "answered", `read in part, then refused: ${partly.text}`);
    assert.match(partly.text, /^HTTP\/1\.1 404 /, partly.text);
    // Past the bound the connection is still closed (the 404, when read in time, says so).
    const closed = await slowUpload(server.port, 8 * 1024 * 1024, 1);
    assert.notEqual(closed.ended, "answered");
    if (closed.text !== "") assert.match(closed.text, /^HTTP\/1\.1 404 [^]*connection: close/i);
  } finally {
    await server.shutdown();
  }
});

Deno.test("http server: with a direct handler, a small POST it declines reaches the fetch handler whole; a stalled one is cut off", async () => {
  const asked: string[] = [];
  const server = await serveHttp(async (request) => {
    const bytes = new Uint8Array(await request.arrayBuffer());
    return new Response(`read ${bytes.length} ${new TextDecoder().decode(bytes.subarray(-6))}\n`);
  }, {
    hostname: "127.0.0.1",
    port: 0,
    bodyProgressTimeoutMs: 500,
    direct: (request) => {
      asked.push(`${request.method} ${request.body?.length}`);
      return undefined; // as the app does for every path but /query
    },
  });
  try {
    const length = 20_000; // under the small-body bound: read before the direct handler is asked
    const body = new Uint8Array(length).fill(97);
    body.set(new TextEncoder().encode("ending"), length - 6);
    const head = (expect: string) =>
      `POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: ${length}\r\n${expect}\r\n`;
    const continued = await firstAnswer(server.port, head("Expect: 100-continue\r\n"), body, 5000);
    assert.match(continued, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, continued);
    assert.match(continued, /read 20000 ending/);
    const plain = await fetch(`http://127.0.0.1:${server.port}/write`, { method: "POST", body });
    assert.equal(await plain.text(), "read 20000 ending\n");
    assert.deepEqual(asked, ["POST 20000", "POST 20000"]);
    // Headers, then no body: the connection is closed at the progress timeout, no one waits on.
    const started = Date.now();
    const stalled = await closedWithin(server.port, head(""), 5000);
    assert.equal(stalled, "closed");
    assert.ok(Date.now() - started < 3000, `cut off after ${Date.now() - started} ms`);
    assert.equal(asked.length, 2, "a stalled body never reaches the direct handler");
  } finally {
    await server.shutdown();
  }
});

/** Sends `head` and no more; "closed" when the server closes the connection within `ms`. */
function closedWithin(port: number, head: string, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(head));
    const limit = setTimeout(() => {
      socket.destroy();
      resolve("still open");
    }, ms);
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(limit);
      resolve("closed");
    });
  });
}
