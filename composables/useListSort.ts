import type { SortingState } from '@tanstack/vue-table'
import type { SortDirection } from '~~/shared/schemas/common'

/**
 * A keyset-paged list's server-side sort (docs/ui.md, "Sorting"), kept in the URL
 * (`?sort=<key>&dir=asc|desc`) like the filters, so a sorted view can be shared and survives a
 * reload. `columns` maps each sortable column id of the <AppDataTable server-sort> to the list
 * procedure's sort key; `sorting` is the table's v-model, `sort` the procedure's `sort` input
 * (undefined: the list's default order). An unknown key in the URL is ignored.
 */
export function useListSort<K extends string>(columns: Record<string, K>) {
  const route = useRoute()
  const router = useRouter()
  const columnOf = Object.fromEntries(Object.entries(columns).map(([column, key]) => [key, column])) as Record<string, string>
  const initial = (): SortingState => {
    const key = route.query.sort
    if (typeof key !== 'string' || !columnOf[key]) return []
    return [{ id: columnOf[key], desc: route.query.dir === 'desc' }]
  }
  const sorting = ref<SortingState>(initial())
  const sort = computed<{ by: K, dir: SortDirection } | undefined>(() => {
    const s = sorting.value[0]
    const by = s ? columns[s.id] : undefined
    return s && by ? { by, dir: s.desc ? 'desc' : 'asc' } : undefined
  })
  watch(sort, (s) => {
    void router.replace({ query: { ...route.query, sort: s?.by, dir: s?.dir } })
  })
  return { sorting, sort }
}
