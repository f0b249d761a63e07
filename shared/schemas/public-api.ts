import { z } from 'zod'
import { API_ERRORS, COMMON_OPTIONAL, FIELD_RULES, MAX_LENGTH, type ApiErrorCode, type Route, type StringField } from '../../server/lib/public-api'

/**
 * The public routes' requests and answers as zod schemas: what the OpenAPI document
 * (shared/api/openapi.ts, served at /api/v1/openapi.json) is generated from. Request schemas are
 * built from the same field rules the verify path's hand parser reads (server/lib/public-api.ts);
 * tests/unit/public-api-schemas.test.ts proves the two accept and refuse the same bodies.
 * Answer schemas are strict (no other property may appear): the conformance test
 * (tests/integration/openapi.test.ts) holds every real answer to them.
 */

const FIELD_DOCS: Record<StringField, { description: string, example: string }> = {
  key: { description: 'The license key as the customer typed it: any case, with or without dashes, spaces or the `LM-` prefix.', example: 'LM-7K3QF-9XW2M-TR8VD-0HJ4N-B6ZCE-4Q9XH' },
  fingerprint: { description: 'An opaque, stable id of the device (your app chooses it, e.g. a hash of a machine id).', example: 'device-4f2a' },
  name: { description: 'A readable name for the device, shown to the seller.', example: 'Ada\'s MacBook' },
  product: { description: 'The slug of the product your app is. A key for another product (or none) answers `PRODUCT_MISMATCH` and changes nothing.', example: 'photo-pro' },
  nonce: { description: 'Echoed as `nonce` in the answer and in the signed token: lets a client reject a replayed answer.', example: 'n-5f1c9a' },
}

const stringField = (field: StringField) => z.string().min(1).max(MAX_LENGTH[field]).meta(FIELD_DOCS[field])
const signedField = z.boolean().meta({ description: 'With `true`, an answer about an existing license also carries `token`, a signed JWT (verify and activate; see the JWKS).' })

/** A route's body schema, from its field rules (unknown properties are ignored, as the hand parser does). */
function requestSchema(route: Route, id: string, description: string, example: Record<string, unknown>) {
  const rules = FIELD_RULES[route]
  const shape: Record<string, z.ZodType> = {}
  for (const f of rules.required) shape[f] = stringField(f)
  for (const f of [...rules.optional, ...COMMON_OPTIONAL]) shape[f] = stringField(f).optional()
  shape.signed = signedField.optional()
  return z.object(shape).meta({ id, description, examples: [example] })
}

const KEY = FIELD_DOCS.key.example
export const verifyRequestSchema = requestSchema('verify', 'VerifyRequest', 'Check a key (and optionally a device). Other properties are ignored.', { key: KEY, fingerprint: 'device-4f2a', product: 'photo-pro' })
export const activateRequestSchema = requestSchema('activate', 'ActivateRequest', 'Take a seat for a device. Other properties are ignored.', { key: KEY, fingerprint: 'device-4f2a', name: 'Ada\'s MacBook' })
export const deactivateRequestSchema = requestSchema('deactivate', 'DeactivateRequest', 'Free a device\'s seat (also on suspended and expired licenses). Other properties are ignored.', { key: KEY, fingerprint: 'device-4f2a' })
export const publicRequestSchemas: Record<Route, z.ZodObject> = { verify: verifyRequestSchema, activate: activateRequestSchema, deactivate: deactivateRequestSchema }

const isoDate = z.iso.datetime()

export const devicesSchema = z.strictObject({
  used: z.int().min(0).meta({ description: 'Devices activated now.' }),
  max: z.int().min(0).nullable().meta({ description: 'Seats; `null` = unlimited.' }),
}).meta({ id: 'Devices', description: 'Seats in use and available.', examples: [{ used: 1, max: 3 }] })

export const publicLicenseSchema = z.strictObject({
  expiresAt: isoDate.nullable().meta({ description: 'When it expires; `null` = perpetual.' }),
  metadata: z.record(z.string(), z.unknown()).meta({ description: 'What the seller attached (tier, feature flags, limits…), at most 4 KiB.' }),
  devices: devicesSchema,
  graceEndsAt: isoDate.nullable().optional().meta({ description: 'End of the grace period after expiry, when the license has one.' }),
}).meta({ id: 'PublicLicense', description: 'The license as your app sees it: never the owner, an internal id, the key or a customer field.', examples: [{ expiresAt: '2027-01-31T00:00:00.000Z', metadata: { tier: 'pro' }, devices: { used: 1, max: 3 } }] })

const JWS_RE = /^[\w-]+\.[\w-]+\.[\w-]+$/
export const licenseTokenClaimsSchema = z.strictObject({
  iss: z.string().meta({ description: 'The installation\'s public URL.' }),
  iat: z.int(),
  nbf: z.int(),
  exp: z.int().meta({ description: '`iat` + TOKEN_TTL (default 7 days), never past the license\'s expiry or grace end.' }),
  code: z.string().meta({ description: 'The answer\'s `code`.' }),
  valid: z.boolean(),
  license: publicLicenseSchema,
  product: z.string().nullable().meta({ description: 'The license\'s product slug, `null` for none.' }),
  fingerprint: z.string().optional().meta({ description: 'The fingerprint sent, if any.' }),
  nonce: z.string().optional().meta({ description: 'The nonce sent, if any.' }),
  kh: z.string().meta({ description: 'base64url (unpadded) SHA-256 of the key\'s canonical body: binds the token to the key without revealing it.' }),
}).meta({ id: 'LicenseTokenClaims', description: 'The claims of a signed answer\'s `token` (a compact JWS, header `alg: EdDSA`, `kid`, `typ: lm-license+jwt`), verifiable with the JWKS.' })

const nonceEcho = z.string().min(1).max(MAX_LENGTH.nonce).optional().meta({ description: 'The request\'s `nonce`, echoed.' })
const token = z.string().regex(JWS_RE).optional().meta({
  description: 'With `"signed": true` and an existing license: a compact JWS (EdDSA) whose claims are `LicenseTokenClaims`.',
  contentMediaType: 'application/jwt',
  // JSON Schema 2020-12 annotation: what the token's payload holds (the generator keeps this $ref and adds the schema).
  contentSchema: { $ref: '#/components/schemas/LicenseTokenClaims' },
})

export const VERIFY_CODES = ['NOT_FOUND', 'PRODUCT_MISMATCH', 'SUSPENDED', 'EXPIRED', 'DEVICE_NOT_ACTIVATED', 'VALID'] as const
export const ACTIVATE_CODES = ['NOT_FOUND', 'PRODUCT_MISMATCH', 'SUSPENDED', 'EXPIRED', 'ALREADY_ACTIVATED', 'DEVICE_LIMIT_REACHED', 'ACTIVATED'] as const
export const DEACTIVATE_CODES = ['NOT_FOUND', 'PRODUCT_MISMATCH', 'DEVICE_NOT_ACTIVATED', 'DEACTIVATED'] as const
/** Codes whose answers say nothing about a license: no `license`, no `devices`, no token. */
const NO_LICENSE = ['NOT_FOUND', 'PRODUCT_MISMATCH'] as const
const without = <T extends string>(all: readonly T[], drop: readonly string[]) => all.filter(c => !drop.includes(c)) as [T, ...T[]]

export const verifyAnswerSchema = z.union([
  z.strictObject({
    valid: z.literal(false),
    status: z.literal('inactive'),
    code: z.enum(NO_LICENSE),
    nonce: nonceEcho,
  }),
  z.strictObject({
    valid: z.boolean(),
    status: z.enum(['active', 'inactive']).meta({ description: '`active` exactly when `valid` is true.' }),
    code: z.enum(without(VERIFY_CODES, NO_LICENSE)),
    license: publicLicenseSchema,
    nonce: nonceEcho,
    token,
  }),
]).meta({
  id: 'VerifyAnswer',
  description: '`code`, first match wins: `NOT_FOUND` (no such key; no `license`), `PRODUCT_MISMATCH` (you sent `product` and the key is for another product or none; no `license`), `SUSPENDED`, `EXPIRED` (`expiresAt` ≤ now), `DEVICE_NOT_ACTIVATED` (a `fingerprint` was sent and is not activated), `VALID`.',
})

export const activateAnswerSchema = z.union([
  z.strictObject({ activated: z.literal(false), code: z.enum(NO_LICENSE), nonce: nonceEcho }),
  z.strictObject({
    activated: z.boolean().meta({ description: '`true` for `ACTIVATED` and `ALREADY_ACTIVATED`.' }),
    code: z.enum(without(ACTIVATE_CODES, NO_LICENSE)),
    devices: devicesSchema,
    nonce: nonceEcho,
    token,
  }),
]).meta({
  id: 'ActivateAnswer',
  description: '`code`, first match wins: `NOT_FOUND`, `PRODUCT_MISMATCH`, `SUSPENDED`, `EXPIRED`, `ALREADY_ACTIVATED` (same fingerprint again: idempotent, uses no extra seat), `DEVICE_LIMIT_REACHED` (`activated: false`), `ACTIVATED` (a new device). Concurrent activations never exceed the seats.',
})

export const deactivateAnswerSchema = z.union([
  z.strictObject({ deactivated: z.literal(false), code: z.enum(NO_LICENSE), nonce: nonceEcho }),
  z.strictObject({
    deactivated: z.boolean(),
    code: z.enum(without(DEACTIVATE_CODES, NO_LICENSE)),
    devices: devicesSchema,
    nonce: nonceEcho,
  }),
]).meta({
  id: 'DeactivateAnswer',
  description: '`code`: `DEACTIVATED` (the seat is free), `DEVICE_NOT_ACTIVATED`, `NOT_FOUND`, `PRODUCT_MISMATCH`. Works on suspended and expired licenses too. Never signed.',
})

export const healthAnswerSchema = z.union([
  z.strictObject({ ok: z.literal(true) }),
  z.strictObject({
    ok: z.literal(true),
    database: z.literal('ok'),
    eventsLost: z.int().min(0).meta({ description: 'Audit events lost after every retry (an operator\'s alarm; should stay 0).' }),
  }),
]).meta({ id: 'Health', description: '`{ "ok": true }`; with `?deep=1` the database is read too.', examples: [{ ok: true }, { ok: true, database: 'ok', eventsLost: 0 }] })

export const jwksSchema = z.strictObject({
  keys: z.array(z.strictObject({
    kty: z.literal('OKP'),
    crv: z.literal('Ed25519'),
    x: z.string(),
    kid: z.string().meta({ description: 'RFC 7638 thumbprint; a token\'s header names it.' }),
    alg: z.literal('EdDSA'),
    use: z.literal('sig'),
  })).min(1),
}).meta({ id: 'Jwks', description: 'The public keys that verify signed answers (RFC 7517). During a rotation the previous key is listed too.' })

/** Every protocol error code, in the code→status map's order. */
export const ERROR_CODES = Object.keys(API_ERRORS) as [ApiErrorCode, ...ApiErrorCode[]]

/** The error body, with `code` narrowed to `codes` (a response's own list). */
export function errorBodySchema(codes: readonly ApiErrorCode[] = ERROR_CODES) {
  return z.strictObject({
    error: z.strictObject({
      code: z.enum(codes as [ApiErrorCode, ...ApiErrorCode[]]),
      message: z.string().meta({ description: 'For people; never a stack trace.' }),
      fields: z.record(z.string(), z.string()).optional().meta({ description: '`VALIDATION_FAILED` only: a message per offending field.' }),
    }),
  })
}
