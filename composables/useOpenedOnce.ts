import type { Ref } from 'vue'

/**
 * True from the first time `open` turns true. A dialog rendered as `<Lazy… v-if="opened">` loads its
 * code (forms, zod schemas, pickers) only when first opened, not with the page (docs/ui.md,
 * "First loads"), and then stays mounted: its close animation and the one-time secret dialog it
 * shows after closing keep working.
 */
export function useOpenedOnce(open: Ref<boolean>): Ref<boolean> {
  const opened = ref(open.value)
  watch(open, (v) => { if (v) opened.value = true })
  return opened
}
