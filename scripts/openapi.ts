/**
 * `npm run openapi [-- FILE]`: write the OpenAPI document (shared/api/openapi.ts) as JSON, to FILE
 * or stdout — what `npm test` lints with Redocly (redocly.yaml) and what /api/v1/openapi.json serves.
 */
import { writeFileSync } from 'node:fs'
import { buildOpenApiDocument } from '../shared/api/openapi'

const text = `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`
const file = process.argv[2]
if (file) writeFileSync(file, text)
else process.stdout.write(text)
