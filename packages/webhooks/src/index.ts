export { classifyAddress, parseIpLiteral, isAllowedRange, type AddressRange, type IpAddress } from './address-range.js';
export { checkWebhookUrl, systemResolve, WebhookUrlError, type CheckedWebhookUrl, type CheckWebhookUrlOptions, type ResolveHost, type WebhookUrlErrorCode } from './webhook-url.js';
export { signWebhook, generateWebhookSecret } from './signature.js';
export { resolveWebhookSecret, type WebhookSecret } from './webhook-secret.js';
export { DeliveryLog, type DeliveryAttempt } from './delivery-log.js';
export { postWebhook, type PostResult } from './post-webhook.js';
export { TenantSlots, type TenantSlotsOptions } from './tenant-slots.js';
