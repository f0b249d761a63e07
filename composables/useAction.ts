/**
 * A page's buttons that call the server: `run(action, success, failure)` runs one at a time
 * (`busy`), toasts the success (unless null) or the error, and returns the result (undefined on failure).
 */
export function useAction() {
  const toast = useToast()
  const { toastError } = useErrors()
  const busy = ref(false)

  async function run<T>(action: () => Promise<T>, success: { title: string, description?: string, icon?: string, color?: 'success' | 'error' | 'warning' } | null, failure: string): Promise<T | undefined> {
    busy.value = true
    try {
      const result = await action()
      // null: the page itself shows the result (a revealed secret), so no toast (docs/ui.md).
      if (success) toast.add({ color: 'success', icon: 'i-lucide-check', ...success })
      return result
    }
    catch (e) {
      toastError(e, failure)
      return undefined
    }
    finally {
      busy.value = false
    }
  }

  return { busy, run }
}
