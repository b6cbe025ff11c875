export {
  createInngestApi,
  type InngestApi,
  type InngestApiOptions,
  toRestRun,
} from "./api.js";
export { createHttpDriver, type HttpDriverOptions } from "./http-driver.js";
export type { StoredApp } from "./registry.js";
export { type CursorWindow, fetchBeforeCursor, type ListNewestFirst } from "./rest-paging.js";
export { canonicalJson, hashSigningKey, signBody, verifySignature } from "./signing.js";
export {
  createSigningKeyring,
  type SigningKeyring,
  type SigningKeySettings,
  type SigningKeyStatus,
} from "./signing-keys.js";
export type { SyncResult } from "./sync-ping.js";
