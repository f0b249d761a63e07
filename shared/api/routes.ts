import type { z } from 'zod'
import type { ApiErrorCode } from '../../server/lib/public-api'

/**
 * One documented operation of the REST API: what shared/api/openapi.ts turns into the OpenAPI
 * document. Schemas are the zod schemas the doors validate with and answer in; errors are
 * listed by code (their status comes from the one code→status map, server/lib/public-api.ts).
 */
export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete'

export interface ApiExample {
  summary: string
  value: unknown
}

export interface ApiSuccess {
  status: number
  description: string
  /** Absent: no body (e.g. 204). */
  schema?: z.ZodType
  /** Media type of the body (default application/json). */
  mediaType?: string
  examples?: Record<string, ApiExample>
  /** Component names of the headers this answer carries (see HEADERS in shared/api/openapi.ts). */
  headers?: string[]
}

export interface ApiRoute {
  method: HttpMethod
  /** OpenAPI path template, e.g. /api/v1/licenses/{id}. */
  path: string
  operationId: string
  summary: string
  description?: string
  tag: string
  /** `bearer`: an API token (Authorization: Bearer lm_…); `none`: public. */
  auth: 'none' | 'bearer'
  /** Path parameters (a zod object; each property one parameter). */
  params?: z.ZodObject
  /** Query parameters (a zod object; each property one parameter). */
  query?: z.ZodObject
  /** Header parameters other than Authorization (e.g. Idempotency-Key). */
  headers?: z.ZodObject
  /** `optional`: the body may be left out (an empty body counts as `{}`). */
  body?: { schema: z.ZodType, optional?: boolean, description?: string, examples?: Record<string, ApiExample> }
  responses: ApiSuccess[]
  /** Every protocol error this operation can answer, each with an example message. */
  errors: Partial<Record<ApiErrorCode, string>>
}
