import { router } from '../init'
import { accountRouter } from './account'
import { authRouter } from './auth'
import { licensesRouter } from './licenses'
import { usersRouter } from './users'

export const appRouter = router({
  auth: authRouter,
  account: accountRouter,
  users: usersRouter,
  licenses: licensesRouter,
})

export type AppRouter = typeof appRouter
