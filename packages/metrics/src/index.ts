export { createMetrics, QUEUE_STATES, type Metrics, type MetricsOptions, type QueueCountsSource, type QueueState, type UpstreamGaugeReading } from './metrics.js';
export { serveMetrics } from './metrics-server.js';
export { metricsAuthorized, METRICS_UNAUTHORIZED_MESSAGE } from './metrics-auth.js';
export { registerFleetMetrics, FLEET_JOBS, FLEET_TOKENS, type FleetCountsSnapshot, type FleetMetricsOptions } from './fleet-metrics.js';
export { registerTenantMetrics, type TenantFigure } from './tenant-metrics.js';
