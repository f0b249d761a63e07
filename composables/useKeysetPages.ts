/**
 * "Load more" over a keyset-paginated list: the first page comes from `first` (a query that refetches
 * when filters change — which starts over), later pages from `fetchNext(cursor)`.
 */
export function useKeysetPages<Page extends { items: unknown[], nextCursor: string | null }>(
  first: Ref<Page | null | undefined>,
  fetchNext: (cursor: string) => Promise<Page>,
  errorTitle: string,
) {
  const { toastError } = useErrors()
  const morePages = ref([]) as Ref<Page[]>
  const loadingMore = ref(false)
  watch(first, () => { morePages.value = [] })
  const rows = computed<Page['items'][number][]>(() => [...(first.value?.items ?? []), ...morePages.value.flatMap(p => p.items)])
  const nextCursor = computed(() => (morePages.value.at(-1) ?? first.value)?.nextCursor ?? null)

  async function loadMore() {
    if (!nextCursor.value) return
    loadingMore.value = true
    try {
      morePages.value = [...morePages.value, await fetchNext(nextCursor.value)]
    }
    catch (e) {
      toastError(e, errorTitle)
    }
    finally {
      loadingMore.value = false
    }
  }

  return { rows, nextCursor, loadingMore, loadMore }
}
