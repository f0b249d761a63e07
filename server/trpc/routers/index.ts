import { router } from '../init'
import { accountRouter } from './account'
import { authRouter } from './auth'
import { licensesRouter } from './licenses'
import { logRouter } from './log'
import { productsRouter } from './products'
import { settingsRouter } from './settings'
import { tokensRouter } from './tokens'
import { usersRouter } from './users'
import { webhooksRouter } from './webhooks'

export const appRouter = router({
  auth: authRouter,
  account: accountRouter,
  users: usersRouter,
  products: productsRouter,
  licenses: licensesRouter,
  log: logRouter,
  webhooks: webhooksRouter,
  settings: settingsRouter,
  tokens: tokensRouter,
})

export type AppRouter = typeof appRouter
