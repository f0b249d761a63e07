/** Revoke an API token after a confirmation, with a toast; `done` runs after a revoke (e.g. refresh). */
export function useTokenRevoke(done: () => Promise<unknown>) {
  const { $trpc } = useNuxtApp()
  const { toastError } = useErrors()
  const toast = useToast()
  const confirm = useConfirm()
  return async (t: { id: string, name: string, ownerEmail?: string | null }) => {
    if (!(await confirm({
      title: `Revoke "${t.name}"?`,
      description: 'Every call with this token is refused from now on (401). This cannot be undone.',
      confirmLabel: 'Revoke token',
    }))) return
    try {
      await $trpc.tokens.revoke.mutate({ id: t.id })
      toast.add({ title: 'Token revoked', description: t.name, color: 'success', icon: 'i-lucide-check' })
      await done()
    }
    catch (e) {
      toastError(e, 'Could not revoke token')
    }
  }
}
