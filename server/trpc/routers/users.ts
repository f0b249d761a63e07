import { createUserSchema, listUsersSchema, setDisabledSchema, updateUserSchema, userIdSchema } from '../../../shared/schemas/users'
import { createUser, endUserSessions, getUser, listUsers, setUserDisabled, updateUser } from '../../services/users'
import { adminProcedure, router } from '../init'

/** Admin area: user management. Every procedure is adminProcedure. */
export const usersRouter = router({
  list: adminProcedure.input(listUsersSchema).query(({ ctx, input }) => listUsers(ctx, input)),
  get: adminProcedure.input(userIdSchema).query(({ ctx, input }) => getUser(ctx, input.id)),
  create: adminProcedure.input(createUserSchema).mutation(({ ctx, input }) => createUser(ctx, input)),
  update: adminProcedure.input(updateUserSchema).mutation(({ ctx, input }) => updateUser(ctx, input)),
  setDisabled: adminProcedure.input(setDisabledSchema).mutation(({ ctx, input }) => setUserDisabled(ctx, input.id, input.disabled)),
  endSessions: adminProcedure.input(userIdSchema).mutation(({ ctx, input }) => endUserSessions(ctx, input.id)),
})
