import { requireAdmin } from '../../server/services/authz'
import { rotateKeySecrets } from '../../server/services/licenses'
import { reencryptWebhookSecrets } from '../../server/services/webhooks'
import { principalOf, type Command } from '../command'

/** `keys rotate`: rewrite digests and ciphertexts under new key secrets (docs/keys.md). */
export const keyCommands: Record<string, Command> = {
  'keys rotate': {
    flags: {},
    prepare: () => async (ctx) => {
      requireAdmin(principalOf(ctx))
      if (!ctx.env.KEY_HMAC_SECRET_PREVIOUS && !ctx.env.KEY_ENC_SECRET_PREVIOUS) {
        return { output: { rewritten: 0, note: 'no *_PREVIOUS secrets set: nothing to rotate' }, human: 'No KEY_*_PREVIOUS secrets are set: nothing to rotate (see docs/keys.md).' }
      }
      const { rewritten } = await rotateKeySecrets(ctx)
      // Webhook signing secrets are encrypted with KEY_ENC_SECRET too.
      const webhooks = await reencryptWebhookSecrets(ctx)
      return {
        output: { rewritten, webhookSecretsRewritten: webhooks.rewritten },
        human: rewritten
          ? `Rewrote ${rewritten} license${rewritten === 1 ? '' : 's'} under the new secrets. Run again until it reports 0, then remove the *_PREVIOUS secrets.`
          : 'Every license already uses the new secrets: the *_PREVIOUS secrets can be removed.',
      }
    },
  },
}
