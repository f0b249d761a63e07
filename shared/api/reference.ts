import { markdownToHtml } from './markdown'

/**
 * The API reference page's model (pages/docs/api.vue), made from the OpenAPI document that
 * shared/api/openapi.ts builds: operations grouped by tag, every `$ref` resolved, JSON Schemas
 * flattened into what the page shows (type, required, enum, limits, nested properties, oneOf/anyOf)
 * and descriptions turned into HTML. A resolved component is one shared object, so the page's
 * payload (devalue keeps shared references) carries each component once.
 */
type Json = Record<string, unknown>

export interface RefSchema {
  /** What to show as the type: `string`, `integer`, `object`, `string[]`, `License`, `any`… */
  type: string
  /** The component's name when it came from a `$ref`. */
  name?: string
  nullable?: boolean
  descriptionHtml?: string
  /** Allowed values, as JSON text. */
  enum?: string[]
  /** Limits in words: `1–256 characters`, `≥ 1`, `format: date-time`, `default: 25`… */
  constraints: string[]
  properties?: RefProperty[]
  /** A map's values (`additionalProperties`). */
  values?: RefSchema
  items?: RefSchema
  variants?: { kind: 'oneOf' | 'anyOf', options: RefSchema[] }
  /** An example value, as JSON text. */
  example?: string
  /** Refers to a component already being expanded (a cycle): shown by name only. */
  circular?: boolean
}
export interface RefProperty { name: string, required: boolean, schema: RefSchema }
export interface RefParameter { name: string, in: string, required: boolean, descriptionHtml?: string, schema: RefSchema }
export interface RefExample { name: string, summary: string, json: string }
export interface RefResponse {
  status: string
  descriptionHtml: string
  mediaType?: string
  schema?: RefSchema
  /** `error.code` values an error answer can carry. */
  codes: string[]
  examples: RefExample[]
  headers: { name: string, descriptionHtml: string }[]
}
export interface RefOperation {
  id: string
  method: string
  path: string
  summary: string
  descriptionHtml?: string
  tag: string
  auth: 'none' | 'bearer'
  parameters: RefParameter[]
  body?: { required: boolean, descriptionHtml?: string, mediaType: string, schema: RefSchema, examples: RefExample[] }
  responses: RefResponse[]
  /** Lower-case text the search box matches against. */
  haystack: string
}
export interface RefTag { name: string, descriptionHtml: string, operations: RefOperation[] }
export interface ApiReferenceModel {
  title: string
  version: string
  summary?: string
  descriptionHtml: string
  bearerHtml?: string
  tags: RefTag[]
  /** Named components that answers nest (shown once, linked from each answer: #schema-Name). */
  schemas: RefSchema[]
  operationCount: number
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const
const isObj = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v)
const html = (s: unknown) => (typeof s === 'string' && s.trim() ? markdownToHtml(s) : undefined)

/** Resolves `#/components/...` pointers inside one document. */
function pointer(doc: Json, ref: string): Json | undefined {
  if (!ref.startsWith('#/')) return undefined
  let cur: unknown = doc
  for (const part of ref.slice(2).split('/')) cur = isObj(cur) ? cur[part.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined
  return isObj(cur) ? cur : undefined
}

function constraintsOf(s: Json): string[] {
  const out: string[] = []
  const num = (k: string) => (typeof s[k] === 'number' ? s[k] as number : undefined)
  const range = (lo: number | undefined, hi: number | undefined, unit: string) => {
    if (lo !== undefined && hi !== undefined) out.push(lo === hi ? `exactly ${lo} ${unit}` : `${lo}–${hi} ${unit}`)
    else if (lo !== undefined) out.push(`≥ ${lo} ${unit}`)
    else if (hi !== undefined) out.push(`≤ ${hi} ${unit}`)
  }
  range(num('minLength'), num('maxLength'), 'characters')
  range(num('minItems'), num('maxItems'), 'items')
  range(num('minProperties'), num('maxProperties'), 'properties')
  const min = num('minimum') ?? num('exclusiveMinimum')
  const max = num('maximum') ?? num('exclusiveMaximum')
  const gt = num('exclusiveMinimum') !== undefined ? '>' : '≥'
  const lt = num('exclusiveMaximum') !== undefined ? '<' : '≤'
  if (min !== undefined && max !== undefined && gt === '≥' && lt === '≤') out.push(`${min}–${max}`)
  else {
    if (min !== undefined) out.push(`${gt} ${min}`)
    if (max !== undefined) out.push(`${lt} ${max}`)
  }
  if (typeof s.format === 'string') out.push(`format: ${s.format}`)
  // A format says it better than its regular expression (zod's date-time pattern is 300 characters).
  else if (typeof s.pattern === 'string') out.push(`pattern: ${s.pattern}`)
  if ('const' in s) out.push(`always ${JSON.stringify(s.const)}`)
  if ('default' in s) out.push(`default: ${JSON.stringify(s.default)}`)
  if (typeof s.contentMediaType === 'string') out.push(`content: ${s.contentMediaType}`)
  if (s.uniqueItems === true) out.push('unique items')
  return out
}

class SchemaReader {
  private readonly memo = new Map<string, RefSchema>()
  private readonly open = new Set<string>()
  constructor(private readonly doc: Json) {}

  read(node: unknown): RefSchema {
    if (node === true || !isObj(node) || Object.keys(node).length === 0) return { type: 'any', constraints: [] }
    if (typeof node.$ref === 'string') {
      const ref = node.$ref
      const { $ref: _, ...siblings } = node
      const name = ref.split('/').pop()!
      // A $ref with siblings (e.g. ErrorCode narrowed by `enum`) is its own schema.
      if (Object.keys(siblings).length) {
        const target = pointer(this.doc, ref)
        return { ...this.read({ ...target, ...siblings }), name }
      }
      const done = this.memo.get(ref)
      if (done) return done
      if (this.open.has(ref)) return { type: name, name, constraints: [], circular: true }
      this.open.add(ref)
      const target = pointer(this.doc, ref)
      const out = { ...(target ? this.read(target) : { type: 'any', constraints: [] }), name }
      this.open.delete(ref)
      this.memo.set(ref, out)
      return out
    }
    return this.inline(node)
  }

  private inline(s: Json): RefSchema {
    const base: RefSchema = { type: 'any', constraints: constraintsOf(s), descriptionHtml: html(s.description) }
    if (Array.isArray(s.enum)) base.enum = s.enum.map(v => JSON.stringify(v))
    if (Array.isArray(s.examples) && s.examples.length) base.example = JSON.stringify(s.examples[0], null, 2)
    else if ('example' in s) base.example = JSON.stringify(s.example, null, 2)
    for (const kind of ['oneOf', 'anyOf'] as const) {
      const list = s[kind]
      if (!Array.isArray(list)) continue
      const options = list.filter(o => !(isObj(o) && o.type === 'null'))
      const nullable = options.length < list.length
      if (options.length === 1) {
        // `X | null`: one schema, marked nullable; the outer description wins.
        const inner = this.read(options[0])
        return { ...inner, nullable: true, descriptionHtml: base.descriptionHtml ?? inner.descriptionHtml, constraints: [...inner.constraints, ...base.constraints] }
      }
      const read = options.map(o => this.read(o))
      return { ...base, type: read.map(o => o.name ?? o.type).join(' | '), nullable, variants: { kind, options: read } }
    }
    let types = Array.isArray(s.type) ? s.type.filter((t): t is string => typeof t === 'string') : typeof s.type === 'string' ? [s.type] : []
    if (types.includes('null')) {
      base.nullable = true
      types = types.filter(t => t !== 'null')
    }
    if (!types.length) {
      if (isObj(s.properties)) types = ['object']
      else if (base.enum) types = [...new Set((s.enum as unknown[]).map(v => (v === null ? 'null' : typeof v)))]
    }
    base.type = types.join(' | ') || 'any'
    if (types.includes('object') || isObj(s.properties)) {
      const required = new Set(Array.isArray(s.required) ? s.required as string[] : [])
      if (isObj(s.properties)) base.properties = Object.entries(s.properties).map(([name, p]) => ({ name, required: required.has(name), schema: this.read(p) }))
      if (isObj(s.additionalProperties) || s.additionalProperties === true) {
        base.values = this.read(s.additionalProperties)
        if (!base.properties?.length) base.type = `map of ${base.values.name ?? base.values.type}`
      }
    }
    if (types.includes('array') && s.items !== undefined) {
      base.items = this.read(s.items)
      base.type = `${base.items.name ?? base.items.type}[]`
    }
    return base
  }
}

function examplesOf(media: Json | undefined): RefExample[] {
  if (!media) return []
  if (isObj(media.examples)) {
    return Object.entries(media.examples).filter(([, e]) => isObj(e)).map(([name, e]) => ({
      name,
      summary: typeof (e as Json).summary === 'string' ? (e as Json).summary as string : name,
      json: JSON.stringify((e as Json).value, null, 2),
    }))
  }
  return 'example' in media ? [{ name: 'example', summary: 'Example', json: JSON.stringify(media.example, null, 2) }] : []
}

/** A request body; without examples of its own, its schema's example stands in. */
function bodyOf(doc: Json, [mediaType, media]: [string, Json], schema: RefSchema): NonNullable<RefOperation['body']> {
  const examples = examplesOf(media)
  if (!examples.length && schema.example) examples.push({ name: 'example', summary: 'Example', json: schema.example })
  return { required: doc.required === true, descriptionHtml: html(doc.description), mediaType, schema, examples }
}

/** The first JSON-ish media type of a `content` map. */
function mediaOf(content: unknown): [string, Json] | undefined {
  if (!isObj(content)) return undefined
  const entries = Object.entries(content).filter((e): e is [string, Json] => isObj(e[1]))
  return entries.find(([t]) => t.includes('json')) ?? entries[0]
}

export function buildApiReference(doc: Json): ApiReferenceModel {
  const reader = new SchemaReader(doc)
  const deref = (v: unknown): Json | undefined => (isObj(v) && typeof v.$ref === 'string' ? pointer(doc, v.$ref) : isObj(v) ? v : undefined)
  const info = (deref(doc.info) ?? {}) as Json
  const tagDocs = new Map<string, string | undefined>()
  for (const t of Array.isArray(doc.tags) ? doc.tags : []) if (isObj(t) && typeof t.name === 'string') tagDocs.set(t.name, typeof t.description === 'string' ? t.description : undefined)
  const tags = new Map<string, RefTag>()
  const tagOf = (name: string) => {
    let t = tags.get(name)
    if (!t) tags.set(name, t = { name, descriptionHtml: html(tagDocs.get(name)) ?? '', operations: [] })
    return t
  }
  for (const name of tagDocs.keys()) tagOf(name)
  const globalSecurity = Array.isArray(doc.security) ? doc.security : []
  let count = 0
  const responseMemo = new Map<string, Omit<RefResponse, 'status'>>()
  const responseBody = (res: Json): Omit<RefResponse, 'status'> => {
    const media = mediaOf(res.content)
    const schema = media ? reader.read(media[1].schema) : undefined
    const codeNode = schema?.properties?.find(p => p.name === 'error')?.schema.properties?.find(p => p.name === 'code')?.schema
    return {
      descriptionHtml: html(res.description) ?? '',
      mediaType: media?.[0],
      schema,
      codes: codeNode?.enum?.map(c => JSON.parse(c) as string) ?? [],
      examples: examplesOf(media?.[1]),
      headers: Object.entries(isObj(res.headers) ? res.headers : {}).map(([name, h]) => ({ name, descriptionHtml: html(deref(h)?.description) ?? '' })),
    }
  }

  for (const [path, item] of Object.entries(isObj(doc.paths) ? doc.paths : {})) {
    if (!isObj(item)) continue
    const shared = Array.isArray(item.parameters) ? item.parameters : []
    for (const method of METHODS) {
      const op = item[method]
      if (!isObj(op)) continue
      const security = Array.isArray(op.security) ? op.security : globalSecurity
      const parameters: RefParameter[] = [...shared, ...(Array.isArray(op.parameters) ? op.parameters : [])].map(deref).filter(isObj).map(p => ({
        name: String(p.name),
        in: String(p.in),
        required: p.required === true,
        descriptionHtml: html(p.description),
        schema: reader.read(p.schema),
      }))
      const bodyDoc = deref(op.requestBody)
      const bodyMedia = mediaOf(bodyDoc?.content)
      const responses: RefResponse[] = Object.entries(isObj(op.responses) ? op.responses : {}).map(([status, r]) => {
        // A shared response component is read once; its parts are then shared objects.
        const ref = isObj(r) && typeof r.$ref === 'string' ? r.$ref : undefined
        let body = ref ? responseMemo.get(ref) : undefined
        if (!body) {
          body = responseBody(deref(r) ?? {})
          if (ref) responseMemo.set(ref, body)
        }
        return { status, ...body }
      })
      const tag = Array.isArray(op.tags) && typeof op.tags[0] === 'string' ? op.tags[0] : 'Other'
      const operation: RefOperation = {
        id: typeof op.operationId === 'string' ? op.operationId : `${method}-${path}`.replace(/[^\w-]+/g, '-'),
        method: method.toUpperCase(),
        path,
        summary: typeof op.summary === 'string' ? op.summary : `${method.toUpperCase()} ${path}`,
        descriptionHtml: html(op.description),
        tag,
        auth: security.some(s => isObj(s) && Object.keys(s).length > 0) ? 'bearer' : 'none',
        parameters,
        body: bodyMedia
          ? bodyOf(bodyDoc!, bodyMedia, reader.read(bodyMedia[1].schema))
          : undefined,
        responses,
        haystack: '',
      }
      operation.haystack = [operation.method, path, operation.summary, operation.id, tag, typeof op.description === 'string' ? op.description : '', ...responses.flatMap(r => r.codes)].join(' ').toLowerCase()
      tagOf(tag).operations.push(operation)
      count++
    }
  }
  // Components nested inside answers (at any depth below the top), and what they nest in turn.
  const linked = new Map<string, RefSchema>()
  const walk = (node: RefSchema, top: boolean) => {
    if (!top && node.name && !node.circular) {
      if (linked.has(node.name)) return
      linked.set(node.name, node)
    }
    for (const p of node.properties ?? []) walk(p.schema, false)
    for (const o of node.variants?.options ?? []) walk(o, false)
    if (node.items) walk(node.items, false)
    if (node.values) walk(node.values, false)
  }
  for (const t of tags.values()) for (const o of t.operations) for (const r of o.responses) if (r.schema && !r.codes.length) walk(r.schema, true)
  const schemes = isObj(doc.components) && isObj(doc.components.securitySchemes) ? doc.components.securitySchemes : {}
  const bearer = Object.values(schemes).find(s => isObj(s) && s.scheme === 'bearer') as Json | undefined
  return {
    title: typeof info.title === 'string' ? info.title : 'API reference',
    version: typeof info.version === 'string' ? info.version : '',
    summary: typeof info.summary === 'string' ? info.summary : undefined,
    descriptionHtml: html(info.description) ?? '',
    bearerHtml: html(bearer?.description),
    tags: [...tags.values()].filter(t => t.operations.length),
    schemas: [...linked.values()].filter(n => n.properties?.length || n.variants || n.items || n.values).sort((a, b) => a.name!.localeCompare(b.name!)),
    operationCount: count,
  }
}

let last: { text: string, model: ApiReferenceModel } | undefined
/** The model of a document given as JSON text; the last one is kept (the server renders the same document every time). */
export function apiReferenceFromText(text: string): ApiReferenceModel {
  if (last?.text !== text) last = { text, model: buildApiReference(JSON.parse(text) as Json) }
  return last.model
}

/** Placeholder for a path parameter in a snippet: `{deviceId}` → `DEVICE_ID` (braces would make curl glob). */
const placeholder = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()

/** A copyable curl command for an operation, with this installation's base URL. */
export function curlSnippet(op: RefOperation, baseUrl: string): string {
  const path = op.path.replace(/\{(\w+)\}/g, (_, n: string) => placeholder(n))
  const query = op.parameters.filter(p => p.in === 'query' && p.required).map(p => `${p.name}=${placeholder(p.name)}`).join('&')
  const lines = [`curl -s${op.method === 'GET' ? '' : ` -X ${op.method}`} '${baseUrl}${path}${query ? `?${query}` : ''}'`]
  if (op.auth === 'bearer') lines.push(`-H "Authorization: Bearer $LM_TOKEN"`)
  for (const p of op.parameters.filter(p => p.in === 'header' && p.required)) lines.push(`-H '${p.name}: ${placeholder(p.name)}'`)
  if (op.body) {
    lines.push(`-H 'Content-Type: ${op.body.mediaType}'`)
    const example = op.body.examples[0]?.json
    // Compact JSON inside single quotes: a ' in the example is closed, escaped and reopened.
    if (example) lines.push(`-d '${JSON.stringify(JSON.parse(example)).replace(/'/g, `'\\''`)}'`)
  }
  return lines.join(' \\\n  ')
}
