/**
 * @license-manager/client — verify, activate, deactivate and heartbeat against a License Manager
 * installation, with signed answers (EdDSA JWS checked against the installation's JWKS or pinned
 * keys) and an offline fallback to the last good token. Runs wherever WebCrypto and fetch exist:
 * Node ≥ 18, Electron, Deno, Bun, browsers. The file storage adapter is in `@license-manager/client/file`.
 */
export { LicenseClient } from './client.js'
export type { ActivateResult, ClientCode, DeactivateResult, Devices, HeartbeatResult, LicenseClientOptions, ServerActivateCode, ServerDeactivateCode, ServerHeartbeatCode, ServerVerifyCode, VerifyResult } from './client.js'
export { MemoryStorage, WebStorage, type LicenseStorage } from './storage.js'
export { canonicalKey, keyHash, TokenError, TOKEN_TYPE, verifyToken, type Expected, type LicenseClaims, type LicenseInfo } from './token.js'
