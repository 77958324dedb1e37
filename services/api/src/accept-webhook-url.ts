import { ApiError } from '@spool/contracts';
import { checkWebhookUrl, WebhookUrlError } from '@spool/webhooks';
import type { AppDeps } from './deps.js';

/**
 * A webhook URL fit to store, or the 400 naming `param`: http(s) only, and unless
 * SPOOL_WEBHOOK_ALLOW_PRIVATE every address its host resolves to is public. Delivery checks again.
 */
export async function acceptWebhookUrl(deps: AppDeps, url: string, param = 'webhook.url'): Promise<string> {
  try {
    const checked = await checkWebhookUrl(url, { allowPrivate: deps.config.webhookAllowPrivate });
    return checked.url.href;
  } catch (error) {
    if (error instanceof WebhookUrlError) throw ApiError.invalid(error.message, param, error.code === 'invalid_url' ? 'invalid_webhook_url' : error.code);
    throw error;
  }
}
