import { TRPCClientError } from '@trpc/client'
import type { FormError } from '@nuxt/ui'

interface ErrorData { fieldErrors?: Record<string, string[]> | null, code?: string }

/** Turn a tRPC error into UForm field errors and a toast-friendly message. */
export function useErrors() {
  const toast = useToast()

  function dataOf(error: unknown): ErrorData | undefined {
    return error instanceof TRPCClientError ? (error.data as ErrorData | undefined) : undefined
  }

  function messageOf(error: unknown): string {
    if (error instanceof TRPCClientError) return error.message
    if (error instanceof Error && error.message) return error.message
    return 'Something went wrong'
  }

  function formErrors(error: unknown): FormError[] {
    const fields = dataOf(error)?.fieldErrors ?? {}
    return Object.entries(fields).flatMap(([name, messages]) => (messages ?? []).map(message => ({ name, message })))
  }

  function toastError(error: unknown, title = 'Something went wrong') {
    toast.add({ title, description: messageOf(error), color: 'error', icon: 'i-lucide-circle-alert' })
  }

  return { messageOf, formErrors, toastError, dataOf }
}
