// The lean local D1 as a Miniflare plugin (docs/performance.md, "The local D1, per hop"): a worker
// binding of type `unsafe:lean-d1` (scripts/lib/lean-d1.ts makes it from wrangler.toml's D1 binding)
// becomes `env.DB`, D1's API over one RPC hop to a Durable Object of ours (binding.mjs,
// object.mjs), instead of Miniflare's D1 binding. The object keeps its SQLite files where Miniflare's D1
// keeps them (<persist>/d1, unique key `miniflare-D1DatabaseObject`, named by the database id), so the
// database is the same file; Miniflare's D1 is then not configured at all (one owner per file).
// `Miniflare#getBindings()` returns the same binding to Node (through Miniflare's proxy).
import { readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ProxyNodeBinding, getPersistPath } from 'miniflare'

export const LEAN_D1_TYPE = 'lean-d1'
const SERVICE = 'lm-lean-d1'
const STORAGE = 'lm-lean-d1:storage'
const MODULE = 'lm-lean-d1:binding'
// Miniflare's D1: its plugin's folder, and its object's unique key (node_modules/miniflare, plugins/d1).
const D1_PERSIST_NAME = 'd1'
const UNIQUE_KEY = 'miniflare-D1DatabaseObject'
const source = name => readFileSync(join(import.meta.dirname, name), 'utf8')

const leanBindings = workerOpts => Object.entries(workerOpts.config.env ?? {}).filter(([, b]) => b.type === `unsafe:${LEAN_D1_TYPE}`)

export const plugins = {
  [LEAN_D1_TYPE]: {
    bindingTypeDescription: 'D1 database (lean local binding)',
    getBindings(workerOpts) {
      return leanBindings(workerOpts).map(([name, binding]) => ({
        name,
        wrapped: {
          moduleName: MODULE,
          innerBindings: [
            { name: 'NAMESPACE', durableObjectNamespace: { className: 'LeanD1', serviceName: SERVICE } },
            { name: 'NAME', text: String(binding.dev.options.id) },
          ],
        },
      }))
    },
    getNodeBindings(workerOpts) {
      return Object.fromEntries(leanBindings(workerOpts).map(([name]) => [name, new ProxyNodeBinding()]))
    },
    async getServices({ options, tmpPath, sharedOptions }) {
      if (leanBindings(options).length === 0) return []
      const path = getPersistPath(D1_PERSIST_NAME, tmpPath, sharedOptions.resourcePersistencePath)
      await mkdir(path, { recursive: true })
      return {
        services: [
          { name: STORAGE, disk: { path, writable: true } },
          {
            name: SERVICE,
            worker: {
              compatibilityDate: '2026-11-01',
              modules: [{ name: 'object.mjs', esModule: source('object.mjs') }],
              durableObjectNamespaces: [{ className: 'LeanD1', uniqueKey: UNIQUE_KEY, enableSql: true }],
              durableObjectStorage: { localDisk: STORAGE },
            },
          },
        ],
        extensions: [{ modules: [{ name: MODULE, esModule: source('binding.mjs'), internal: true }] }],
      }
    },
  },
}
