import Ajv2020 from 'ajv/dist/2020'
import addFormats from 'ajv-formats'
import type { ValidateFunction } from 'ajv'

/**
 * Holds real answers to the OpenAPI document with a standard JSON Schema validator (ajv 8, draft
 * 2020-12 — OpenAPI 3.1's dialect — with ajv-formats), and records which documented
 * operation × status × code each answer exercised, for the coverage assertions.
 */
type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any -- an OpenAPI document is read by key
export const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const

export interface Operation { method: string, path: string, template: RegExp, op: Json }

const DOC_ID = 'https://lm.test/openapi.json'
const pointer = (...parts: string[]) => parts.map(p => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/')

export class Conformance {
  readonly ajv: Ajv2020
  readonly operations: Operation[] = []
  readonly exercised = new Set<string>()
  private validators = new Map<string, ValidateFunction>()

  constructor(readonly doc: Json) {
    // strict: false — the document is not itself a schema (openapi, paths…); its schemas are reached by pointer.
    this.ajv = new Ajv2020({ strict: false, allErrors: true })
    addFormats(this.ajv)
    this.ajv.addSchema({ ...doc, $id: DOC_ID })
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      for (const method of METHODS) {
        if (!item[method]) continue
        const template = new RegExp(`^${path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`)
        this.operations.push({ method, path, template, op: item[method] })
      }
    }
  }

  find(method: string, pathname: string): Operation | undefined {
    return this.operations.find(o => o.method === method.toLowerCase() && o.template.test(pathname))
  }

  /** Every (operationId, status, code) the document promises: statuses, and each status's `code` values. */
  promised(): string[] {
    const out: string[] = []
    for (const o of this.operations) {
      for (const [status, res] of Object.entries(o.op.responses as Json)) {
        const codes = new Set<string>()
        for (const media of Object.values((res.content ?? {}) as Json)) collectCodes(this.resolve(media.schema), this, codes)
        if (!codes.size) out.push(`${o.op.operationId} ${status}`)
        for (const c of codes) out.push(`${o.op.operationId} ${status} ${c}`)
      }
    }
    return out
  }

  resolve(s: Json): Json {
    if (s?.$ref) return this.resolve(s.$ref.slice(2).split('/').reduce((n: Json, k: string) => n[k.replace(/~1/g, '/').replace(/~0/g, '~')], this.doc))
    return s
  }

  /**
   * Check one real answer against the document: the operation exists, the status is documented,
   * the media type and the status's required headers match, the body validates. Throws with the
   * validator's errors otherwise.
   */
  check(method: string, pathname: string, res: { status: number, headers: Headers, text: string }): Json | null {
    // A 405 answers a method the path does not have: it is documented on the path's operations.
    const o = this.find(method, pathname) ?? (res.status === 405 ? this.operations.find(x => x.template.test(pathname) && x.op.responses['405']) : undefined)
    if (!o) throw new Error(`${method} ${pathname} is not in the document`)
    const status = String(res.status)
    const doc = o.op.responses[status]
    if (!doc) throw new Error(`${o.op.operationId}: status ${status} is not documented (${res.text.slice(0, 200)})`)
    for (const h of Object.keys(doc.headers ?? {})) {
      if (['Allow', 'Retry-After', 'WWW-Authenticate', 'ETag'].includes(h) && !res.headers.get(h)) throw new Error(`${o.op.operationId} ${status}: header ${h} missing`)
    }
    const media = Object.keys(doc.content ?? {})
    if (!media.length) {
      if (res.text !== '') throw new Error(`${o.op.operationId} ${status}: documented without a body, got ${res.text.slice(0, 100)}`)
      this.exercised.add(`${o.op.operationId} ${status}`)
      return null
    }
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim()
    if (!media.includes(type)) throw new Error(`${o.op.operationId} ${status}: content-type ${type}, documented ${media.join(', ')}`)
    const body = JSON.parse(res.text) as Json
    const key = `${o.method} ${o.path} ${status} ${type}`
    let validate = this.validators.get(key)
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${DOC_ID}#/${pointer('paths', o.path, o.method, 'responses', status, 'content', type, 'schema')}` })
      this.validators.set(key, validate)
    }
    if (!validate(body)) throw new Error(`${o.op.operationId} ${status} does not conform: ${this.ajv.errorsText(validate.errors)}\n${res.text.slice(0, 500)}`)
    const code = typeof body.code === 'string' ? body.code : typeof body.error?.code === 'string' ? body.error.code : null
    const codes = new Set<string>()
    collectCodes(this.resolve(doc.content[type].schema), this, codes)
    this.exercised.add(codes.size && code ? `${o.op.operationId} ${status} ${code}` : `${o.op.operationId} ${status}`)
    return body
  }
}

/** The values a schema allows for `code` (an answer's) or `error.code` (an error's). */
function collectCodes(s: Json | undefined, c: Conformance, out: Set<string>) {
  if (!s) return
  s = c.resolve(s)
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const) for (const sub of s[k] ?? []) collectCodes(sub, c, out)
  const code = s.properties?.code && c.resolve(s.properties.code)
  for (const v of code?.enum ?? (code?.const !== undefined ? [code.const] : [])) out.add(v)
  if (s.properties?.error) collectCodes(s.properties.error, c, out)
}
