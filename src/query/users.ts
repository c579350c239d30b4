/**
 * What the executor needs to run the user and privilege statements (CREATE USER, GRANT, SHOW
 * USERS ...). The query room declares it; the auth room implements it over the cluster's
 * metadata. Refusals throw {@linkcode EpochError}s with InfluxDB's texts ("user not found").
 * @module
 */
import type { PrivilegeName } from "./ast.ts";

/** The user directory as the executor sees it. */
export interface UserAdmin {
  /** Creating an existing user with the same password succeeds, as in InfluxDB. */
  createUser(name: string, password: string, admin: boolean): Promise<void>;
  dropUser(name: string): Promise<void>;
  setPassword(name: string, password: string): Promise<void>;
  grant(name: string, database: string, privilege: PrivilegeName): Promise<void>;
  revoke(name: string, database: string, privilege: PrivilegeName): Promise<void>;
  setAdmin(name: string, admin: boolean): Promise<void>;
  /** In creation order. */
  listUsers(): { name: string; admin: boolean }[];
  /** A user's grants, `NO PRIVILEGES` included; throws NotFoundError("user not found"). */
  grantsOf(name: string): { database: string; privilege: string }[];
}
