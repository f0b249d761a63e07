import { router } from '../init'
import { accountRouter } from './account'
import { authRouter } from './auth'
import { usersRouter } from './users'

export const appRouter = router({
  auth: authRouter,
  account: accountRouter,
  users: usersRouter,
})

export type AppRouter = typeof appRouter
