import drizzle from 'eslint-plugin-drizzle'
import withNuxt from './.nuxt/eslint.config.mjs'

export default withNuxt(
  {
    ignores: ['db/migrations/**', '.output/**', '.wrangler/**', 'bench/results/**', 'sdk/dist/**'],
  },
  {
    files: ['server/**/*.ts', 'cli/**/*.ts', 'scripts/**/*.ts'],
    plugins: { drizzle },
    rules: {
      // Every update/delete must say which rows (eslint-plugin-drizzle).
      'drizzle/enforce-delete-with-where': ['error', { drizzleObjectName: ['db', 'ctx.db'] }],
      'drizzle/enforce-update-with-where': ['error', { drizzleObjectName: ['db', 'ctx.db'] }],
    },
  },
  {
    rules: {
      'vue/multi-word-component-names': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
)
