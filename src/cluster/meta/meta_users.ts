/**
 * Users, their privileges and API tokens, as part of the replicated metadata (InfluxDB 1.x's
 * users and grants, plus bearer tokens). Commands carry hashes, never secrets: the proposer
 * runs the slow password hash (and the token's digest) before proposing, so applying a command
 * stays cheap and deterministic on every node.
 *
 * Privileges are InfluxDB's bits: READ = 1, WRITE = 2, ALL = 3; a revoke clears bits and the
 * grant stays listed as `NO PRIVILEGES` (0), as `SHOW GRANTS` does in InfluxDB.
 * @module
 */

/** A privilege on a database, as a bit set. */
export const Privilege = { none: 0, read: 1, write: 2, all: 3 } as const;
/** READ, WRITE, ALL or none. */
export type PrivilegeBits = 0 | 1 | 2 | 3;

/** A user. */
export interface UserMeta {
  name: string;
  /** An encoded slow hash (`auth/password.ts`). */
  passwordHash: string;
  admin: boolean;
  /** database -> privilege bits, in grant order. */
  privileges: Map<string, PrivilegeBits>;
}

/** What a token may do: admin, or privileges on databases. */
export interface TokenScope {
  admin: boolean;
  /** database -> privilege bits. */
  databases: Record<string, PrivilegeBits>;
}

/** An API token. Only a digest of its secret is kept. */
export interface TokenMeta extends TokenScope {
  /** Public id (printed in listings, used to revoke). */
  id: string;
  /** Hex SHA-256 of the token's secret part. */
  digest: string;
  description: string;
  /** The user who made it ("" when made before any user existed or by the cluster). */
  createdBy: string;
  /** Milliseconds since the epoch, decided by the proposer. */
  createdMs: number;
}

/** The user and token commands of the metadata log. */
export type UserCommand =
  | { op: "create_user"; name: string; passwordHash: string; admin: boolean }
  | { op: "drop_user"; name: string }
  | { op: "set_password"; name: string; passwordHash: string }
  | { op: "set_admin"; name: string; admin: boolean }
  | { op: "grant"; name: string; database: string; privilege: PrivilegeBits }
  | { op: "revoke"; name: string; database: string; privilege: PrivilegeBits }
  | { op: "create_token"; token: TokenMeta }
  | { op: "revoke_token"; id: string };

/** The ops of {@linkcode UserCommand}, to route them. */
export const USER_OPS: ReadonlySet<string> = new Set([
  "create_user",
  "drop_user",
  "set_password",
  "set_admin",
  "grant",
  "revoke",
  "create_token",
  "revoke_token",
]);

/** The outcome of a user command (InfluxDB's texts for refusals). */
export type UserResult = { ok: true } | { ok: false; error: string };

/** Users and tokens of the metadata state. */
export class UserTable {
  readonly users = new Map<string, UserMeta>();
  readonly tokens = new Map<string, TokenMeta>();

  /** True once an admin user exists (InfluxDB's bootstrap ends then). */
  hasAdmin(): boolean {
    for (const u of this.users.values()) if (u.admin) return true;
    return false;
  }

  /** Applies one command; `databaseExists` checks grants. */
  apply(c: UserCommand, databaseExists: (name: string) => boolean): UserResult {
    switch (c.op) {
      case "create_user": {
        if (c.name === "") return { ok: false, error: "username required" };
        if (this.users.has(c.name)) return { ok: false, error: "user already exists" };
        this.users.set(c.name, {
          name: c.name,
          passwordHash: c.passwordHash,
          admin: c.admin,
          privileges: new Map(),
        });
        return { ok: true };
      }
      case "drop_user": {
        const u = this.users.get(c.name);
        if (!u) return { ok: false, error: "user not found" };
        if (u.admin && this.#admins() === 1) return lastAdmin();
        this.users.delete(c.name);
        return { ok: true };
      }
      case "set_password": {
        const u = this.users.get(c.name);
        if (!u) return { ok: false, error: "user not found" };
        u.passwordHash = c.passwordHash;
        return { ok: true };
      }
      case "set_admin": {
        const u = this.users.get(c.name);
        if (!u) return { ok: false, error: "user not found" };
        if (u.admin && !c.admin && this.#admins() === 1) return lastAdmin();
        u.admin = c.admin;
        return { ok: true };
      }
      case "grant": {
        const u = this.users.get(c.name);
        if (!u) return { ok: false, error: "user not found" };
        if (!databaseExists(c.database)) {
          return { ok: false, error: `database not found: ${c.database}` };
        }
        u.privileges.set(c.database, c.privilege);
        return { ok: true };
      }
      case "revoke": {
        const u = this.users.get(c.name);
        if (!u) return { ok: false, error: "user not found" };
        const had = u.privileges.get(c.database) ?? 0;
        u.privileges.set(c.database, (had & ~c.privilege) as PrivilegeBits);
        return { ok: true };
      }
      case "create_token": {
        if (this.tokens.has(c.token.id)) return { ok: false, error: "token id already exists" };
        this.tokens.set(c.token.id, { ...c.token, databases: { ...c.token.databases } });
        return { ok: true };
      }
      case "revoke_token": {
        if (!this.tokens.delete(c.id)) return { ok: false, error: "token not found" };
        return { ok: true };
      }
    }
  }

  /** A database was dropped: its grants go with it (InfluxDB does the same). */
  dropDatabase(name: string): void {
    for (const u of this.users.values()) u.privileges.delete(name);
    for (const t of this.tokens.values()) delete t.databases[name];
  }

  #admins(): number {
    let n = 0;
    for (const u of this.users.values()) if (u.admin) n++;
    return n;
  }

  /** The snapshot's part (plain JSON). */
  toJSON(): { users: unknown[]; tokens: TokenMeta[] } {
    return {
      users: [...this.users.values()].map((u) => ({ ...u, privileges: [...u.privileges] })),
      tokens: [...this.tokens.values()],
    };
  }

  /** Replaces the contents from a snapshot's part (absent in version 1 snapshots). */
  restore(s: { users?: unknown[]; tokens?: TokenMeta[] } | undefined): void {
    this.users.clear();
    this.tokens.clear();
    for (const raw of s?.users ?? []) {
      const u = raw as Omit<UserMeta, "privileges"> & { privileges: [string, PrivilegeBits][] };
      this.users.set(u.name, { ...u, privileges: new Map(u.privileges) });
    }
    for (const t of s?.tokens ?? []) this.tokens.set(t.id, t);
  }
}

function lastAdmin(): UserResult {
  // InfluxDB 1.x allows it and then re-opens the bootstrap (anyone may create an admin): refused.
  return { ok: false, error: "cannot remove the last admin user" };
}
