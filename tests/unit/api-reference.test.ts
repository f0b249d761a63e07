import { describe, expect, it } from 'vitest'
import { markdownToHtml } from '../../shared/api/markdown'
import { buildOpenApiDocument } from '../../shared/api/openapi'
import { buildApiReference, curlSnippet, type RefSchema } from '../../shared/api/reference'

/** The API reference page's model (shared/api/reference.ts) and its Markdown (shared/api/markdown.ts). */
const doc = buildOpenApiDocument()
const model = buildApiReference(doc)
const ops = model.tags.flatMap(t => t.operations)
const op = (id: string) => ops.find(o => o.id === id)!
const field = (s: RefSchema | undefined, name: string) => s?.properties?.find(p => p.name === name)

describe('API reference model', () => {
  it('has every operation of the document, once, under its tag', () => {
    const documented = Object.entries(doc.paths as Record<string, Record<string, { operationId: string, tags: string[] }>>)
      .flatMap(([path, item]) => Object.entries(item).map(([method, o]) => `${o.tags[0]} ${method.toUpperCase()} ${path} ${o.operationId}`))
    expect(model.tags.flatMap(t => t.operations.map(o => `${t.name} ${o.method} ${o.path} ${o.id}`)).sort()).toEqual(documented.sort())
    expect(model.operationCount).toBe(documented.length)
  })

  it('resolves $refs into fields with types, required, limits, nullability and nesting', () => {
    const verify = op('verifyLicense')
    expect(verify.auth).toBe('none')
    expect(verify.body?.schema.name).toBe('VerifyRequest')
    expect(field(verify.body?.schema, 'key')).toMatchObject({ required: true, schema: { type: 'string', constraints: ['1–256 characters'] } })
    expect(verify.body?.examples[0]?.json).toContain('LM-')
    const create = op('createLicense')
    expect(create.auth).toBe('bearer')
    expect(field(create.body?.schema, 'expiresAt')?.schema).toMatchObject({ type: 'string', nullable: true, constraints: ['format: date-time'] })
    expect(field(create.body?.schema, 'maxActivationsPerPeriod')?.schema.properties?.map(p => p.name)).toEqual(['count', 'period'])
    const created = create.responses.find(r => r.status === '201')!
    expect(field(created.schema, 'license')?.schema.name).toBe('License')
    // A shared component is one object (the payload carries it once) and is listed under Schemas.
    expect(model.schemas.find(s => s.name === 'License')).toBe(field(created.schema, 'license')?.schema)
    const list = op('listLicenses')
    expect(list.parameters.find(p => p.name === 'limit')?.schema.constraints).toEqual(['1–100', 'default: 25'])
    expect(list.parameters.find(p => p.name === 'status')?.schema.enum).toEqual(['"active"', '"suspended"', '"expired"'])
  })

  it('lists each error status with the codes it can carry and an example message', () => {
    const create = op('createLicense')
    const byStatus = Object.fromEntries(create.responses.map(r => [r.status, r.codes]))
    expect(byStatus['401']).toEqual(['UNAUTHORIZED'])
    expect(byStatus['422']).toEqual(['VALIDATION_FAILED'])
    expect(create.responses.find(r => r.status === '409')?.examples[0]?.json).toContain('CONFLICT')
  })

  it('makes a curl command with the base URL, placeholders for path parameters and the token', () => {
    expect(curlSnippet(op('freeDevice'), 'https://lm.example.com')).toBe(
      `curl -s -X DELETE 'https://lm.example.com/api/v1/licenses/ID/devices/DEVICE_ID' \\\n  -H "Authorization: Bearer $LM_TOKEN"`)
    const verify = curlSnippet(op('verifyLicense'), 'http://localhost:8787')
    expect(verify).toContain(`curl -s -X POST 'http://localhost:8787/api/v1/licenses/verify'`)
    expect(verify).toContain(`-H 'Content-Type: application/json'`)
    expect(verify).toMatch(/-d '\{"key":"LM-[^']+'$/)
    expect(curlSnippet(op('health'), 'http://x')).toBe(`curl -s 'http://x/api/v1/health'`)
  })
})

describe('Markdown of the descriptions', () => {
  it('renders code, emphasis, lists, tables and safe links', () => {
    expect(markdownToHtml('A `code` and **bold** and *it*.')).toBe('<p>A <code>code</code> and <strong>bold</strong> and <em>it</em>.</p>')
    expect(markdownToHtml('- one\n- two')).toBe('<ul><li>one</li><li>two</li></ul>')
    expect(markdownToHtml('| a | b |\n| --- | --- |\n| 1 | `x` |')).toBe('<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody><tr><td>1</td><td><code>x</code></td></tr></tbody></table>')
    expect(markdownToHtml('[docs](https://example.com/a?b=1&c=2)')).toBe('<p><a href="https://example.com/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">docs</a></p>')
  })

  it('escapes HTML and refuses script links', () => {
    expect(markdownToHtml('<script>alert(1)</script> `<b>`')).toBe('<p>&lt;script&gt;alert(1)&lt;/script&gt; <code>&lt;b&gt;</code></p>')
    expect(markdownToHtml('[x](javascript:alert(1))')).not.toContain('<a')
    expect(markdownToHtml('[x](" onmouseover="alert(1))')).not.toContain('<a')
  })
})
