import { AppConfirmModal } from '#components'

/** `if (await confirm({ title, description, confirmLabel })) …` — every destructive action goes through it. */
export function useConfirm() {
  const overlay = useOverlay()
  const modal = overlay.create(AppConfirmModal)
  return async (props: { title: string, description?: string, confirmLabel?: string, color?: 'error' | 'primary' | 'warning' }) => {
    const instance = modal.open(props)
    return (await instance.result) === true
  }
}
