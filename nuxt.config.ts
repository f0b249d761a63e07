import { fileURLToPath } from 'node:url'

// https://nuxt.com/docs/api/configuration/nuxt-config
export default defineNuxtConfig({
  compatibilityDate: '2026-11-01',
  modules: ['@nuxt/ui', '@nuxt/eslint'],
  devtools: { enabled: false },
  telemetry: false,
  css: ['~/assets/css/main.css'],
  // Offline build: no remote font providers; system font stack instead.
  ui: { fonts: false },
  icon: {
    // Bundle the icons we use; never fetch from the Iconify API at run time.
    provider: 'none',
    serverBundle: false,
    // Icons named in .ts files too (shared/event-names.ts, composables): the default scan reads only .vue.
    clientBundle: { scan: { globInclude: ['{pages,components,layouts,composables,shared,plugins,middleware}/**/*.{vue,ts}', 'app.vue', 'app.config.ts'] }, sizeLimitKb: 512 },
  },
  colorMode: { preference: 'system' },
  app: {
    head: {
      title: 'License Manager',
      htmlAttrs: { lang: 'en' },
      meta: [{ name: 'viewport', content: 'width=device-width, initial-scale=1' }],
      link: [{ rel: 'icon', type: 'image/svg+xml', href: '/favicon.svg' }],
    },
  },
  // trpc-nuxt imports `#imports` and must be transpiled.
  build: { transpile: ['trpc-nuxt'] },
  alias: {
    '#db': '../db',
    // <UIcon> renders through this synchronous inline-SVG component (why: components/app/SyncIcon.ts).
    '@nuxt/icon/runtime/components/index.js': fileURLToPath(new URL('./components/app/SyncIcon.ts', import.meta.url)),
  },
  nitro: {
    preset: 'cloudflare-module',
    // Our own Worker entry: serves /api/v1 before Nitro and exports the RateLimiter Durable Object.
    entry: fileURLToPath(new URL('./server/entry.ts', import.meta.url)),
    cloudflare: { nodeCompat: true, deployConfig: false },
    experimental: { tasks: true },
    // Keep in sync with [triggers] in wrangler.toml: webhooks + expiry every minute, housekeeping every 5.
    scheduledTasks: { '* * * * *': ['webhooks'], '*/5 * * * *': ['maintenance'] },
    routeRules: {
      '/api/**': { headers: { 'cache-control': 'no-store' } },
    },
  },
  routeRules: {
    '/**': {
      headers: {
        'x-frame-options': 'DENY',
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'strict-origin-when-cross-origin',
      },
    },
  },
  // LM_HYDRATION_DETAILS=1 nuxt build: Vue names each hydration mismatch in production (debugging only).
  vite: { define: { __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: process.env.LM_HYDRATION_DETAILS === '1' } },
  hooks: {
    // No <link rel="prefetch"> for the layouts and error pages: fetched after load on every first visit.
    'build:manifest'(manifest) {
      for (const chunk of Object.values(manifest)) chunk.prefetch = false
    },
    // @nuxt/icon's plugin sets up @iconify/vue's runtime loader, unused: <UIcon> renders through SyncIcon.
    'app:resolve'(app) {
      app.plugins = app.plugins.filter(p => !p.src.includes('@nuxt/icon/dist/runtime/plugin'))
    },
  },
  // Links prefetch their page's code on hover/focus, not when visible: the sidebar links every page,
  // and visibility prefetch pulled all of them (with the charts) into every first load (issue 15 item 12).
  experimental: { defaults: { nuxtLink: { prefetchOn: { visibility: false, interaction: true } } } },
  typescript: { strict: true, typeCheck: false },
  eslint: { config: { stylistic: false } },
})
