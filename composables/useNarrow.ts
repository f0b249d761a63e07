/**
 * Is the viewport below Tailwind's `md` (768 px)? null until mounted, so the server render and
 * hydration agree whatever the screen; components pick their small-screen form once it is known.
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
