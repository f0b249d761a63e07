// `cloudflare:workers` is provided by the Workers runtime. @cloudflare/workers-types declares it only
// in its ambient (global) flavour, which this project does not load (it imports the module flavour),
// so the one export we use is re-declared here from the module flavour's types.
declare module 'cloudflare:workers' {
  import type { CloudflareWorkersModule } from '@cloudflare/workers-types'

  export const DurableObject: typeof CloudflareWorkersModule.DurableObject
  export type DurableObject<Env = unknown> = CloudflareWorkersModule.DurableObject<Env>
}
