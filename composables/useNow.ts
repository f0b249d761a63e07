/**
 * The current time, ticking every `everyMs` once the page is interactive (null before: server and
 * first client render show no clock, so relative times never cause a hydration mismatch).
 */
export function useNow(everyMs = 1000) {
  const now = ref<number | null>(null)
  let timer: ReturnType<typeof setInterval> | undefined
  onMounted(() => {
    now.value = Date.now()
    timer = setInterval(() => { now.value = Date.now() }, everyMs)
  })
  onBeforeUnmount(() => clearInterval(timer))
  return now
}

/** "4 s", "2 min 5 s", "3 h 10 min", "2 d 4 h": a countdown people can read at a glance. */
export function formatCountdown(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min${s % 60 ? ` ${s % 60} s` : ''}`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h} h${m % 60 ? ` ${m % 60} min` : ''}`
  const d = Math.floor(h / 24)
  return `${d} d${h % 24 ? ` ${h % 24} h` : ''}`
}
