/**
 * Who a request acts as. A principal reads its privileges from the live metadata table on every
 * check (nothing is copied at login), so a REVOKE or a revoked token counts on the next request.
 * @module
 */
import { Privilege, type PrivilegeBits, type UserTable } from "../cluster/mod.ts";

/** The caller of a request. */
export interface Principal {
  /** `open`: authentication is off, everything is allowed. */
  kind: "user" | "token" | "open";
  /** For messages and logs: the user name, or `token <id>`. Never a secret. */
  name: string;
  isAdmin(): boolean;
  /** The privilege bits held on a database. */
  privilege(database: string): PrivilegeBits;
}

/** The principal of every request when authentication is off. */
export const OPEN_PRINCIPAL: Principal = {
  kind: "open",
  name: "anonymous",
  isAdmin: () => true,
  privilege: () => Privilege.all,
};

/** A user's principal over the live table. */
export function userPrincipal(table: UserTable, name: string): Principal {
  return {
    kind: "user",
    name,
    isAdmin: () => table.users.get(name)?.admin === true,
    privilege: (db) => {
      const u = table.users.get(name);
      if (!u) return Privilege.none;
      return u.admin ? Privilege.all : u.privileges.get(db) ?? Privilege.none;
    },
  };
}

/** A token's principal over the live table (a revoked token holds nothing). */
export function tokenPrincipal(table: UserTable, id: string): Principal {
  return {
    kind: "token",
    name: `token ${id}`,
    isAdmin: () => table.tokens.get(id)?.admin === true,
    privilege: (db) => {
      const t = table.tokens.get(id);
      if (!t) return Privilege.none;
      return t.admin ? Privilege.all : (t.databases[db] ?? Privilege.none);
    },
  };
}

/** True when the principal holds every bit of `wanted` on `database`. */
export function holds(p: Principal, database: string, wanted: PrivilegeBits): boolean {
  return (p.privilege(database) & wanted) === wanted;
}
