import { z } from 'zod'
import {
  activateAnswerSchema, activateRequestSchema, deactivateAnswerSchema, deactivateRequestSchema,
  healthAnswerSchema, jwksSchema, verifyAnswerSchema, verifyRequestSchema,
} from '../schemas/public-api'
import type { ApiExample, ApiRoute } from './routes'

/**
 * The public routes (no authentication, CORS open) as documented operations. Served by
 * server/public-api/handler.ts and server/public-api/jwks.ts; the conformance test
 * (tests/integration/openapi.test.ts) sends each of them every answer listed here.
 */

const license = { expiresAt: '2027-01-31T00:00:00.000Z', metadata: { tier: 'pro' }, devices: { used: 1, max: 3 } }
const TOKEN = 'eyJhbGciOiJFZERTQSIsImtpZCI6IlQ3ZGgiLCJ0eXAiOiJsbS1saWNlbnNlK2p3dCJ9.eyJjb2RlIjoiVkFMSUQifQ.c2lnbmF0dXJl'
const ex = (summary: string, value: unknown): ApiExample => ({ summary, value })

/** Protocol errors every POST route can answer (messages as the server words them). */
const POST_ERRORS = {
  BAD_REQUEST: '"key" is required',
  METHOD_NOT_ALLOWED: 'Use POST',
  PAYLOAD_TOO_LARGE: 'Body must be at most 8192 bytes',
  UNSUPPORTED_MEDIA_TYPE: 'Content-Type must be application/json',
  RATE_LIMITED: 'Too many requests for unknown keys from this address; try again later',
  INTERNAL: 'Something went wrong on our side',
} as const
const LIMIT_HEADERS = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', 'RateLimit-Policy']
const RATE_NOTE = 'Calls for one developer\'s keys are limited per minute (`RateLimit-*` headers; 429 with `Retry-After` beyond), and an address with more than 20 `NOT_FOUND` answers in 10 minutes gets 429 on every public route until the window passes.'

export const publicRoutes: ApiRoute[] = [
  {
    method: 'post',
    path: '/api/v1/licenses/verify',
    operationId: 'verifyLicense',
    summary: 'Verify a license key',
    description: `Call it on every start of your app. A well-formed request always answers 200 with the outcome in \`code\`; HTTP errors are for protocol problems only. ${RATE_NOTE}`,
    tag: 'Public',
    auth: 'none',
    body: { schema: verifyRequestSchema },
    responses: [{
      status: 200,
      description: 'The outcome (whatever it is) in `code`.',
      schema: verifyAnswerSchema,
      headers: LIMIT_HEADERS,
      examples: {
        VALID: ex('A valid key on an activated device', { valid: true, status: 'active', code: 'VALID', license }),
        signed: ex('`"signed": true` with a nonce', { valid: true, status: 'active', code: 'VALID', license, nonce: 'n-5f1c9a', token: TOKEN }),
        NOT_FOUND: ex('No such key (or a mistyped one): no `license`', { valid: false, status: 'inactive', code: 'NOT_FOUND' }),
        PRODUCT_MISMATCH: ex('The key is for another product: no `license`', { valid: false, status: 'inactive', code: 'PRODUCT_MISMATCH' }),
        SUSPENDED: ex('Suspended by the seller', { valid: false, status: 'inactive', code: 'SUSPENDED', license }),
        EXPIRED: ex('Past its expiry', { valid: false, status: 'inactive', code: 'EXPIRED', license: { ...license, expiresAt: '2026-01-31T00:00:00.000Z' } }),
        DEVICE_NOT_ACTIVATED: ex('This fingerprint is not activated', { valid: false, status: 'inactive', code: 'DEVICE_NOT_ACTIVATED', license }),
      },
    }],
    errors: { ...POST_ERRORS, UNAVAILABLE: 'Signed answers are not configured on this server' },
  },
  {
    method: 'post',
    path: '/api/v1/licenses/activate',
    operationId: 'activateDevice',
    summary: 'Activate a device',
    description: `Takes a seat for \`fingerprint\`. The same fingerprint again is idempotent (\`ALREADY_ACTIVATED\`, no extra seat, even when all seats are taken). ${RATE_NOTE}`,
    tag: 'Public',
    auth: 'none',
    body: { schema: activateRequestSchema },
    responses: [{
      status: 200,
      description: 'The outcome in `code`; `devices` whenever the license exists and is yours to see.',
      schema: activateAnswerSchema,
      headers: LIMIT_HEADERS,
      examples: {
        ACTIVATED: ex('A new device took a seat', { activated: true, code: 'ACTIVATED', devices: { used: 2, max: 3 } }),
        ALREADY_ACTIVATED: ex('The same fingerprint again', { activated: true, code: 'ALREADY_ACTIVATED', devices: { used: 2, max: 3 } }),
        DEVICE_LIMIT_REACHED: ex('Every seat is taken', { activated: false, code: 'DEVICE_LIMIT_REACHED', devices: { used: 3, max: 3 } }),
        SUSPENDED: ex('Suspended by the seller', { activated: false, code: 'SUSPENDED', devices: { used: 1, max: 3 } }),
        EXPIRED: ex('Past its expiry', { activated: false, code: 'EXPIRED', devices: { used: 1, max: 3 } }),
        NOT_FOUND: ex('No such key', { activated: false, code: 'NOT_FOUND' }),
        PRODUCT_MISMATCH: ex('The key is for another product', { activated: false, code: 'PRODUCT_MISMATCH' }),
      },
    }],
    errors: { ...POST_ERRORS, BAD_REQUEST: '"fingerprint" is required', UNAVAILABLE: 'Signed answers are not configured on this server' },
  },
  {
    method: 'post',
    path: '/api/v1/licenses/deactivate',
    operationId: 'deactivateDevice',
    summary: 'Free a device\'s seat',
    description: `Works on suspended and expired licenses too. Never signed (\`signed\` is accepted and ignored). ${RATE_NOTE}`,
    tag: 'Public',
    auth: 'none',
    body: { schema: deactivateRequestSchema },
    responses: [{
      status: 200,
      description: 'The outcome in `code`.',
      schema: deactivateAnswerSchema,
      headers: LIMIT_HEADERS,
      examples: {
        DEACTIVATED: ex('The seat is free', { deactivated: true, code: 'DEACTIVATED', devices: { used: 1, max: 3 } }),
        DEVICE_NOT_ACTIVATED: ex('This fingerprint held no seat', { deactivated: false, code: 'DEVICE_NOT_ACTIVATED', devices: { used: 1, max: 3 } }),
        NOT_FOUND: ex('No such key', { deactivated: false, code: 'NOT_FOUND' }),
        PRODUCT_MISMATCH: ex('The key is for another product', { deactivated: false, code: 'PRODUCT_MISMATCH' }),
      },
    }],
    errors: { ...POST_ERRORS, BAD_REQUEST: '"fingerprint" is required' },
  },
  {
    method: 'get',
    path: '/api/v1/health',
    operationId: 'health',
    summary: 'Liveness and readiness',
    description: 'Liveness for uptime checks. With `?deep=1` it also reads the database once (readiness) and reports how many audit events were lost after every retry. `HEAD` answers the same without a body.',
    tag: 'Public',
    auth: 'none',
    query: z.object({ deep: z.literal('1').optional().meta({ description: '`1`: also check the database.' }) }),
    responses: [{
      status: 200,
      description: 'Up (and, with `deep=1`, the database reachable).',
      schema: healthAnswerSchema,
      examples: { live: ex('Liveness', { ok: true }), deep: ex('With `?deep=1`', { ok: true, database: 'ok', eventsLost: 0 }) },
    }],
    errors: { METHOD_NOT_ALLOWED: 'Use GET', UNAVAILABLE: 'The database is not reachable' },
  },
  ...(['/api/v1/jwks.json', '/.well-known/jwks.json'] as const).map((path, i): ApiRoute => ({
    method: 'get',
    path,
    operationId: i === 0 ? 'jwks' : 'wellKnownJwks',
    summary: i === 0 ? 'Public keys for signed answers (JWKS)' : 'Public keys for signed answers (well-known JWKS)',
    description: 'The Ed25519 public keys that verify the `token` of signed answers, for any JOSE library (e.g. `jose`\'s `createRemoteJWKSet`). Cacheable for 5 minutes; refetch on an unknown `kid`.',
    tag: 'Public',
    auth: 'none',
    responses: [{
      status: 200,
      description: 'The key set.',
      schema: jwksSchema,
      mediaType: 'application/jwk-set+json',
      examples: { keys: ex('One signing key', { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'T7dh0s2mQx8Vw3Rk5bJnY1cLpZ4eA6fG9uHiKoMqNrE', alg: 'EdDSA', use: 'sig' }] }) },
    }],
    errors: { METHOD_NOT_ALLOWED: 'Use GET', UNAVAILABLE: 'Signed answers are not configured on this server' },
  })),
  {
    method: 'get',
    path: '/api/v1/openapi.json',
    operationId: 'openapi',
    summary: 'This OpenAPI document',
    description: 'The OpenAPI 3.1 document of every `/api/v1` route, generated from the zod schemas the server validates with. Cacheable (`ETag`; `If-None-Match` answers 304).',
    tag: 'Public',
    auth: 'none',
    responses: [
      { status: 200, description: 'The document.', schema: z.looseObject({ openapi: z.string().regex(/^3\.1\./) }).meta({ id: 'OpenApiDocument', description: 'An OpenAPI 3.1 document.' }), headers: ['ETag'] },
      { status: 304, description: 'Not modified (`If-None-Match` matched the `ETag`).', headers: ['ETag'] },
    ],
    errors: { METHOD_NOT_ALLOWED: 'Use GET' },
  },
]
