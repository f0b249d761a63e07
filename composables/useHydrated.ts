/**
 * False until the page is interactive. Submit buttons stay disabled before hydration so a fast
 * click cannot fall through to a native form submission (which would put fields in the URL).
 */
export function useHydrated() {
  const hydrated = ref(false)
  onMounted(() => { hydrated.value = true })
  return hydrated
}
