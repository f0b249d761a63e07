import { defineEventHandler, getRequestHeader, readRawBody } from 'h3'
import { ApiError, CORS_HEADERS, errorResponse, isJsonContentType, json, MAX_BODY_BYTES, parseBody, ROUTES, type Route } from '../../lib/public-api'
import { activateDevice, deactivateDevice, verifyLicense } from '../../services/validation'
import { serviceContextFromEvent } from '../../utils/service-context'

/**
 * Public REST API for developers' applications: POST /api/v1/licenses/{verify,activate,deactivate}.
 * No cookies, no tRPC, no renderer: parse → service → respond. Unknown paths under /api/v1 are
 * ROUTE_NOT_FOUND in the same error shape.
 */
export default defineEventHandler(async (event) => {
  try {
    const match = /^\/api\/v1\/licenses\/([a-z]+)\/?$/.exec(event.path.split('?')[0]!)
    const route = match && (ROUTES as readonly string[]).includes(match[1]!) ? match[1] as Route : null
    if (!route) throw new ApiError('ROUTE_NOT_FOUND', 'No such route. See /api/v1/licenses/{verify,activate,deactivate}')
    if (event.method === 'OPTIONS') return new Response(null, { status: 204, headers: CORS_HEADERS })
    if (event.method !== 'POST') throw new ApiError('METHOD_NOT_ALLOWED', 'Use POST', { allow: 'POST, OPTIONS' })
    if (!isJsonContentType(getRequestHeader(event, 'content-type') ?? null)) {
      throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json')
    }
    const declared = Number(getRequestHeader(event, 'content-length') ?? 0)
    if (declared > MAX_BODY_BYTES) throw new ApiError('PAYLOAD_TOO_LARGE', `Body must be at most ${MAX_BODY_BYTES} bytes`)
    const raw = await readRawBody(event, false)
    if (raw && raw.byteLength > MAX_BODY_BYTES) throw new ApiError('PAYLOAD_TOO_LARGE', `Body must be at most ${MAX_BODY_BYTES} bytes`)
    const text = raw ? new TextDecoder('utf-8', { fatal: false }).decode(raw) : ''
    if (!text) throw new ApiError('BAD_REQUEST', 'Body is empty')
    const fields = parseBody(route, text)

    const ctx = serviceContextFromEvent(event, { type: 'api', id: null })
    switch (route) {
      case 'verify': return json(200, await verifyLicense(ctx, { key: fields.key, fingerprint: fields.fingerprint }))
      case 'activate': return json(200, await activateDevice(ctx, { key: fields.key, fingerprint: fields.fingerprint!, name: fields.name }))
      case 'deactivate': return json(200, await deactivateDevice(ctx, { key: fields.key, fingerprint: fields.fingerprint! }))
    }
  }
  catch (error) {
    if (error instanceof ApiError) return errorResponse(error)
    console.error('public API error:', error instanceof Error ? error.message : 'unknown')
    return errorResponse(new ApiError('INTERNAL', 'Something went wrong on our side'))
  }
})
