import { TRPCError } from '@trpc/server'
import type { TRPCRequestInfo } from '@trpc/server/http'

/**
 * Limits on one HTTP request to /api/trpc, checked before any procedure runs (docs/rate-limits.md):
 * a batch holds at most MAX_BATCH_CALLS calls (tRPC's own maxBatchSize refuses more before the body
 * is read) and at most one password check, so one request can never cost more than one scrypt hash.
 */
export const MAX_BATCH_CALLS = 10

/** Procedures that hash a password the caller sent. */
export const PASSWORD_CHECKING_PROCEDURES: ReadonlySet<string> = new Set(['auth.login', 'account.changePassword'])

export function checkBatch(info: Pick<TRPCRequestInfo, 'calls'>): void {
  const checks = info.calls.filter(c => PASSWORD_CHECKING_PROCEDURES.has(c.path)).length
  if (checks > 1) {
    throw new TRPCError({ code: 'BAD_REQUEST', message: 'A batch may hold at most one sign-in or password check' })
  }
}
