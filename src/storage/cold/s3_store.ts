/**
 * A cold store on S3-compatible object storage, spoken through plain HTTP requests signed with
 * AWS Signature V4 (aws4fetch: a small signer, no SDK). Path-style addressing
 * (`<endpoint>/<bucket>/<key>`), which every S3-compatible server accepts. `fetch` is handed in
 * (only the runtime room touches the network).
 *
 * - put: one `PUT` (S3 makes an object visible whole or not at all, and durable once answered);
 * - read: `GET` with `Range: bytes=a-b`;
 * - list: `ListObjectsV2` pages (`list-type=2`, continuation tokens).
 * @module
 */
import { AwsClient } from "aws4fetch";
import { StorageError } from "../../core/mod.ts";
import { checkColdKey, type ColdObjectInfo, type ColdStore } from "./cold_store.ts";

/** Options of {@linkcode S3ColdStore}. */
export interface S3StoreOptions {
  /** The server, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:4568`. */
  endpoint: string;
  bucket: string;
  /** Keys are stored under this prefix (no leading or trailing slash; may be empty). */
  prefix?: string;
  /** @default {"us-east-1"} */
  region?: string;
  accessKeyId: string;
  secretAccessKey: string;
  fetch: typeof globalThis.fetch;
  /** Attempts of a request that failed with a network error or a 5xx. @default {3} */
  attempts?: number;
}

const textDecoder = new TextDecoder();

/** S3-compatible object storage as a {@linkcode ColdStore}. */
export class S3ColdStore implements ColdStore {
  readonly name: string;
  readonly #aws: AwsClient;
  readonly #base: string;
  readonly #prefix: string;

  constructor(private readonly options: S3StoreOptions) {
    this.#prefix = options.prefix ? `${options.prefix.replace(/^\/+|\/+$/g, "")}/` : "";
    this.name = `s3://${options.bucket}/${this.#prefix}`.replace(/\/$/, "");
    this.#base = `${options.endpoint.replace(/\/+$/, "")}/${encodeURIComponent(options.bucket)}`;
    this.#aws = new AwsClient({
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
      service: "s3",
      region: options.region ?? "us-east-1",
    });
  }

  #url(key: string): string {
    checkColdKey(key);
    return `${this.#base}/${(this.#prefix + key).split("/").map(encodeURIComponent).join("/")}`;
  }

  /** Signs and sends a request, retrying network errors and 5xx answers. */
  async #send(what: string, url: string, init: RequestInit): Promise<Response> {
    const attempts = this.options.attempts ?? 3;
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        const signed = await this.#aws.sign(url, init);
        const response = await this.options.fetch(signed);
        if (response.status < 500) return response;
        last = `HTTP ${response.status}: ${(await response.text()).slice(0, 300)}`;
      } catch (error) {
        last = error;
      }
    }
    throw new StorageError(`cold store ${this.name}: ${what} failed: ${last}`, { cause: last });
  }

  async #check(what: string, response: Response, ok: number[]): Promise<Response> {
    if (ok.includes(response.status)) return response;
    const body = (await response.text()).slice(0, 300);
    throw new StorageError(
      `cold store ${this.name}: ${what} answered HTTP ${response.status}: ${body}`,
    );
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    const r = await this.#send(`PUT ${key}`, this.#url(key), {
      method: "PUT",
      body: data as Uint8Array<ArrayBuffer>,
      headers: { "content-type": "application/octet-stream" },
    });
    await (await this.#check(`PUT ${key}`, r, [200, 201, 204])).body?.cancel();
  }

  async read(key: string, offset: number, length: number): Promise<Uint8Array> {
    if (length === 0) return new Uint8Array(0);
    const r = await this.#send(`GET ${key}`, this.#url(key), {
      headers: { range: `bytes=${offset}-${offset + length - 1}` },
    });
    if (r.status === 416) {
      await r.body?.cancel();
      return new Uint8Array(0); // the range starts past the end
    }
    await this.#check(`GET ${key} bytes ${offset}+${length}`, r, [200, 206]);
    const bytes = new Uint8Array(await r.arrayBuffer());
    // A server that ignores Range answers 200 with the whole object.
    return r.status === 200 ? bytes.subarray(offset, offset + length) : bytes;
  }

  async size(key: string): Promise<number | null> {
    const r = await this.#send(`HEAD ${key}`, this.#url(key), { method: "HEAD" });
    await r.body?.cancel();
    if (r.status === 404) return null;
    await this.#check(`HEAD ${key}`, r, [200]);
    return Number(r.headers.get("content-length"));
  }

  async remove(key: string): Promise<void> {
    const r = await this.#send(`DELETE ${key}`, this.#url(key), { method: "DELETE" });
    await (await this.#check(`DELETE ${key}`, r, [200, 204, 404])).body?.cancel();
  }

  async list(prefix: string): Promise<ColdObjectInfo[]> {
    const out: ColdObjectInfo[] = [];
    let token: string | undefined;
    for (let page = 0; page < 100_000; page++) {
      const params = new URLSearchParams({ "list-type": "2", prefix: this.#prefix + prefix });
      if (token !== undefined) params.set("continuation-token", token);
      const r = await this.#send(`LIST ${prefix}`, `${this.#base}?${params}`, {});
      const xml = textDecoder.decode(
        new Uint8Array(await (await this.#check(`LIST ${prefix}`, r, [200])).arrayBuffer()),
      );
      for (const m of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
        const key = xmlText(m[1], "Key");
        if (key === undefined || !key.startsWith(this.#prefix)) continue;
        out.push({
          key: key.slice(this.#prefix.length),
          size: Number(xmlText(m[1], "Size") ?? 0),
          modifiedMs: Date.parse(xmlText(m[1], "LastModified") ?? "") || 0,
        });
      }
      if (xmlText(xml, "IsTruncated") !== "true") return out;
      token = xmlText(xml, "NextContinuationToken");
      if (token === undefined) return out;
    }
    throw new StorageError(`cold store ${this.name}: listing ${prefix} never ended`);
  }
}

/** The text of the first `<tag>` element in `xml`, entities decoded. */
function xmlText(xml: string, tag: string): string | undefined {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml);
  if (!m) return undefined;
  return m[1].replace(
    /&(lt|gt|quot|apos|amp);/g,
    (_, e: string) => ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[e]!,
  );
}
