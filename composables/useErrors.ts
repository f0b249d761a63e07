import { TRPCClientError } from '@trpc/client'
import type { FormError } from '@nuxt/ui'

interface ErrorData { fieldErrors?: Record<string, string[]> | null, code?: string }

/** A refusal a form finds itself before calling the server (thrown from an <AppFormModal> submit: shown under the fields). */
export class FieldRefusal extends Error {
  constructor(public readonly errors: FormError[]) {
    super(errors[0]?.message ?? 'Check the form')
  }
}

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
    if (error instanceof FieldRefusal) return error.errors
    const fields = dataOf(error)?.fieldErrors ?? {}
    return Object.entries(fields).flatMap(([name, messages]) => (messages ?? []).map(message => ({ name, message })))
  }

  function toastError(error: unknown, title = 'Something went wrong') {
    // Errors stay a little longer than the 3.5 s of other toasts (app.vue), so they can be read.
    toast.add({ title, description: messageOf(error), color: 'error', icon: 'i-lucide-circle-alert', duration: 6000 })
  }

  /**
   * A failed form submission: field errors onto the form when the server named fields (renamed to the
   * form's own field names where they differ), else a toast.
   */
  function reportFormError(error: unknown, form: { setErrors: (errors: FormError[]) => void } | null | undefined, title: string, rename: Record<string, string> = {}) {
    const errors = formErrors(error).map(err => ({ ...err, name: rename[err.name!] ?? err.name }))
    if (errors.length && form) form.setErrors(errors)
    else toastError(error, title)
  }

  /** A detail page's load error that means "not found" to the viewer: missing, someone else's, or a malformed id. */
  function isNotFound(error: unknown): boolean {
    const e = error as { data?: { code?: string } } | null | undefined
    const code = e?.data?.code ?? dataOf(e)?.code
    return code === 'NOT_FOUND' || code === 'BAD_REQUEST'
  }

  return { messageOf, formErrors, toastError, reportFormError, dataOf, isNotFound }
}
