/**
 * Authentication and authorization: users, privileges and API tokens kept in the cluster's
 * metadata, slow salted password hashes, and which privilege each statement needs. The HTTP
 * room asks it who a request is and what it may do.
 * @module
 */
export {
  authorizeStatements,
  isPrivileged,
  type Requirement,
  requirementsOf,
  STATEMENT_ACCESS,
} from "./access.ts";
export {
  AuthDirectory,
  type AuthDirectoryOptions,
  type AuthMeta,
  type IssuedToken,
  privilegeText,
  type TokenInfo,
} from "./directory.ts";
export {
  constantTimeEqual,
  DEFAULT_PBKDF2_ITERATIONS,
  hashPassword,
  sha256Hex,
  verifyPassword,
} from "./password.ts";
export {
  holds,
  OPEN_PRINCIPAL,
  type Principal,
  tokenPrincipal,
  userPrincipal,
} from "./principal.ts";
