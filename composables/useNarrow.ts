/**
 * Is the viewport below Tailwind's `md` (768 px)? null until mounted: server render and hydration
 * show both forms with CSS choosing (`hidden md:block` / `md:hidden`), so nothing flashes and
 * nothing mismatches; after mount only the fitting form stays in the DOM (one set of test ids).
 */
export function useNarrow() {
  const narrow = ref<boolean | null>(null)
  let mq: MediaQueryList | undefined
  const update = () => { narrow.value = !!mq?.matches }
  onMounted(() => {
    mq = window.matchMedia('(max-width: 767.98px)')
    update()
    mq.addEventListener('change', update)
  })
  onBeforeUnmount(() => mq?.removeEventListener('change', update))
  return narrow
}
