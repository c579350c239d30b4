/**
 * The user directory of a node: authenticates passwords and API tokens against the cluster's
 * metadata copy, and changes users, grants and tokens by proposing metadata commands (the slow
 * hash runs here, on the proposer; the command carries only the hash).
 *
 * A successful password check is cached (bounded, LRU, `cacheTtlMs`) under a keyed digest of
 * name and password, and only while the user's stored hash is the one it was checked against:
 * a password change or a dropped user ends it at once. Privileges are never cached: a principal
 * reads the live table on every check, so a REVOKE takes effect on the next request.
 * @module
 */
import { type Clock, EpochError, NotFoundError, ValidationError } from "../core/mod.ts";
import {
  type MetaResult,
  Privilege,
  type PrivilegeBits,
  type TokenMeta,
  type UserCommand,
  type UserTable,
} from "../cluster/mod.ts";
import type { PrivilegeName, UserAdmin } from "../query/mod.ts";
import { constantTimeEqual, hashPassword, sha256Hex, verifyPassword } from "./password.ts";
import { type Principal, tokenPrincipal, userPrincipal } from "./principal.ts";

/** What the directory needs from the cluster. */
export interface AuthMeta {
  /** This node's applied copy of the users and tokens. */
  table(): UserTable;
  /** Proposes a command and waits until this node has applied it. */
  propose(command: UserCommand): Promise<MetaResult>;
}

/** Options of {@linkcode AuthDirectory}. */
export interface AuthDirectoryOptions {
  meta: AuthMeta;
  clock: Clock;
  /** Cryptographically strong random bytes (salts, tokens). */
  randomBytes: (n: number) => Uint8Array;
  /** PBKDF2 iterations of new hashes. @default {600000} */
  iterations?: number;
  /** How long a verified password is trusted without hashing again. @default {60000} */
  cacheTtlMs?: number;
  /** Most cached verifications. @default {1024} */
  cacheSize?: number;
  /** The slow check (tests count its calls). @default {verifyPassword} */
  verify?: (password: string, encoded: string) => Promise<boolean>;
}

/** A new token: its secret is shown once, only its digest is stored. */
export interface IssuedToken {
  id: string;
  /** `enx_<id>_<secret>`: what a client sends as `Authorization: Bearer <token>`. */
  token: string;
}

/** How a token is listed (no secret, no digest). */
export type TokenInfo = Omit<TokenMeta, "digest">;

const TOKEN_PREFIX = "enx_";
const TOKEN_ID_BYTES = 6;
const TOKEN_SECRET_BYTES = 32;
const PRIVILEGE_BITS: Record<PrivilegeName, PrivilegeBits> = {
  READ: Privilege.read,
  WRITE: Privilege.write,
  ALL: Privilege.all,
};

/** Users, privileges and tokens of a node. */
export class AuthDirectory implements UserAdmin {
  readonly #o:
    & Required<Omit<AuthDirectoryOptions, "meta" | "clock" | "randomBytes">>
    & AuthDirectoryOptions;
  /** key -> stored hash it was verified against, and until when. Map order is LRU order. */
  readonly #verified = new Map<string, { passwordHash: string; untilMs: number }>();
  /** Keys the cache so a memory dump shows no unsalted password digest. */
  readonly #cacheKey: string;
  /** What an unknown user is checked against, so its answer costs as much as a wrong password. */
  #dummyHash: Promise<string> | undefined;

  constructor(options: AuthDirectoryOptions) {
    this.#o = {
      iterations: 600_000,
      cacheTtlMs: 60_000,
      cacheSize: 1024,
      verify: verifyPassword,
      ...options,
    };
    this.#cacheKey = hex(options.randomBytes(16));
  }

  /** True once an admin user exists (until then only `CREATE USER ... WITH ALL PRIVILEGES`). */
  hasAdmin(): boolean {
    return this.#o.meta.table().hasAdmin();
  }

  /** The user with this password, or undefined (unknown user or wrong password alike). */
  async authenticatePassword(name: string, password: string): Promise<Principal | undefined> {
    const table = this.#o.meta.table();
    const user = table.users.get(name);
    const key = sha256Hex(`${this.#cacheKey}\0${name}\0${password}`);
    const now = this.#o.clock.monotonicMs();
    const hit = this.#verified.get(key);
    if (hit && user && hit.passwordHash === user.passwordHash && hit.untilMs > now) {
      this.#verified.delete(key);
      this.#verified.set(key, hit);
      return userPrincipal(table, name);
    }
    if (hit) this.#verified.delete(key);
    if (!user) {
      await this.#o.verify(password, await this.#dummy());
      return undefined;
    }
    const stored = user.passwordHash;
    if (!(await this.#o.verify(password, stored))) return undefined;
    this.#verified.set(key, { passwordHash: stored, untilMs: now + this.#o.cacheTtlMs });
    while (this.#verified.size > this.#o.cacheSize) {
      this.#verified.delete(this.#verified.keys().next().value!);
    }
    return userPrincipal(table, name);
  }

  /** The token's principal, or undefined for an unknown, malformed or revoked token. */
  authenticateToken(token: string): Promise<Principal | undefined> {
    const parsed = parseToken(token);
    if (!parsed) return Promise.resolve(undefined);
    const table = this.#o.meta.table();
    const meta = table.tokens.get(parsed.id);
    const digest = sha256Hex(parsed.secret);
    if (!meta || !constantTimeEqual(bytesOf(digest), bytesOf(meta.digest))) {
      return Promise.resolve(undefined);
    }
    return Promise.resolve(tokenPrincipal(table, parsed.id));
  }

  /** Number of cached verifications (tests, metrics). */
  get cachedVerifications(): number {
    return this.#verified.size;
  }

  // ---- UserAdmin: the statements -------------------------------------------------------------

  async createUser(name: string, password: string, admin: boolean): Promise<void> {
    if (name === "") throw new ValidationError("username required");
    const existing = this.#o.meta.table().users.get(name);
    if (existing) {
      // InfluxDB: creating a user again with the same password is not an error.
      if (await verifyPassword(password, existing.passwordHash)) return;
      throw new EpochError("already_exists", "user already exists");
    }
    const passwordHash = await this.#hash(password);
    await this.#propose({ op: "create_user", name, passwordHash, admin });
  }

  async dropUser(name: string): Promise<void> {
    await this.#propose({ op: "drop_user", name });
  }

  async setPassword(name: string, password: string): Promise<void> {
    if (!this.#o.meta.table().users.has(name)) throw new NotFoundError("user not found");
    await this.#propose({ op: "set_password", name, passwordHash: await this.#hash(password) });
  }

  async grant(name: string, database: string, privilege: PrivilegeName): Promise<void> {
    await this.#propose({ op: "grant", name, database, privilege: PRIVILEGE_BITS[privilege] });
  }

  async revoke(name: string, database: string, privilege: PrivilegeName): Promise<void> {
    await this.#propose({ op: "revoke", name, database, privilege: PRIVILEGE_BITS[privilege] });
  }

  async setAdmin(name: string, admin: boolean): Promise<void> {
    await this.#propose({ op: "set_admin", name, admin });
  }

  listUsers(): { name: string; admin: boolean }[] {
    return [...this.#o.meta.table().users.values()].map((u) => ({ name: u.name, admin: u.admin }));
  }

  grantsOf(name: string): { database: string; privilege: string }[] {
    const user = this.#o.meta.table().users.get(name);
    if (!user) throw new NotFoundError("user not found");
    return [...user.privileges].map(([database, bits]) => ({
      database,
      privilege: privilegeText(bits),
    }));
  }

  // ---- tokens --------------------------------------------------------------------------------

  /** Makes a token; the returned secret is never stored. */
  async createToken(
    spec: { description?: string; admin?: boolean; databases?: Record<string, PrivilegeName> },
    createdBy: string,
  ): Promise<IssuedToken> {
    const databases: Record<string, PrivilegeBits> = {};
    for (const [db, p] of Object.entries(spec.databases ?? {})) {
      const bits = PRIVILEGE_BITS[p];
      if (bits === undefined) {
        throw new ValidationError(
          `token privilege on ${JSON.stringify(db)} must be READ, WRITE or ALL, got ` +
            JSON.stringify(p),
        );
      }
      databases[db] = bits;
    }
    if (!spec.admin && Object.keys(databases).length === 0) {
      throw new ValidationError('a token needs "admin": true or at least one database privilege');
    }
    const id = hex(this.#o.randomBytes(TOKEN_ID_BYTES));
    const secret = base64url(this.#o.randomBytes(TOKEN_SECRET_BYTES));
    await this.#propose({
      op: "create_token",
      token: {
        id,
        digest: sha256Hex(secret),
        description: spec.description ?? "",
        createdBy,
        createdMs: this.#o.clock.nowMs(),
        admin: spec.admin === true,
        databases,
      },
    });
    return { id, token: `${TOKEN_PREFIX}${id}_${secret}` };
  }

  /** Every token, without secrets or digests. */
  listTokens(): TokenInfo[] {
    return [...this.#o.meta.table().tokens.values()].map(({ digest: _, ...info }) => info);
  }

  async revokeToken(id: string): Promise<void> {
    await this.#propose({ op: "revoke_token", id });
  }

  // ---- helpers -------------------------------------------------------------------------------

  #hash(password: string): Promise<string> {
    return hashPassword(password, {
      randomBytes: this.#o.randomBytes,
      iterations: this.#o.iterations,
    });
  }

  #dummy(): Promise<string> {
    return this.#dummyHash ??= this.#hash("no such user");
  }

  async #propose(command: UserCommand): Promise<void> {
    const result = await this.#o.meta.propose(command);
    if (result.ok) return;
    if (result.error.endsWith("not found")) throw new NotFoundError(result.error);
    throw new EpochError("failed_precondition", result.error);
  }
}

/** InfluxDB's names of privilege bits in SHOW GRANTS. */
export function privilegeText(bits: PrivilegeBits): string {
  return ["NO PRIVILEGES", "READ", "WRITE", "ALL PRIVILEGES"][bits];
}

/** `enx_<12 hex>_<secret>` -> parts, or undefined. */
function parseToken(token: string): { id: string; secret: string } | undefined {
  const m = /^enx_([0-9a-f]{12})_([A-Za-z0-9_-]{20,})$/.exec(token);
  return m ? { id: m[1], secret: m[2] } : undefined;
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
