// A Node CLI app that checks its license on every start, online or offline (README "10-line example").
//   node examples/cli.mjs LM-XXXXX-…   (LM_URL defaults to http://localhost:8787)
import { hostname } from 'node:os'
import { LicenseClient } from '@license-manager/client'
import { FileStorage } from '@license-manager/client/file'

const client = new LicenseClient({ baseUrl: process.env.LM_URL ?? 'http://localhost:8787', storage: new FileStorage(process.env.LM_CACHE ?? '.license-cache.json') })
const key = process.argv[2]
let result = await client.verify(key, { fingerprint: hostname() })
if (result.code === 'DEVICE_NOT_ACTIVATED') result = await client.activate(key, { fingerprint: hostname(), name: hostname() })
console.log(result.valid ? `Licensed${result.offline ? ' (offline, until ' + result.expiresAt.toISOString() + ')' : ''}` : `Not licensed: ${result.code}`)
process.exit(result.valid ? 0 : 1)
