import { createProductSchema, listProductsSchema, productIdSchema, updateProductSchema } from '../../../shared/schemas/products'
import { namedOwner, ownerForCreate } from '../../services/authz'
import { createProduct, deleteProduct, getProduct, listProducts, updateProduct } from '../../services/products'
import { protectedProcedure, router } from '../init'

/** Users manage their own products, admins all: ctx.scope (authz.ts) goes into every WHERE clause. */
export const productsRouter = router({
  list: protectedProcedure.input(listProductsSchema).query(({ ctx, input }) =>
    listProducts(ctx, ctx.scope, { ...input, ownerId: namedOwner(ctx.principal, input.ownerId) })),
  get: protectedProcedure.input(productIdSchema).query(({ ctx, input }) => getProduct(ctx, ctx.scope, input.id)),
  create: protectedProcedure.input(createProductSchema).mutation(({ ctx, input }) =>
    createProduct(ctx, ownerForCreate(ctx.principal, input.ownerId), input)),
  update: protectedProcedure.input(updateProductSchema).mutation(({ ctx, input }) => updateProduct(ctx, ctx.scope, input)),
  delete: protectedProcedure.input(productIdSchema).mutation(({ ctx, input }) => deleteProduct(ctx, ctx.scope, input.id)),
})
