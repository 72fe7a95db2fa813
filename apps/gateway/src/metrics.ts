import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { requestDurationHistogram, type RequestDurationHistogram } from '@telemetry/shared/http/request-duration';
import { createAppRegistry, type AppRegistryOptions } from '@telemetry/shared/metrics/registry';

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly responses: Counter<'status'>;
  readonly bodyBytes: Counter;
  readonly publishSeconds: Histogram;
  readonly inFlightPublishes: Gauge;
  readonly inFlightBytes: Gauge;
  /** MAX_INFLIGHT_PUBLISHES and MAX_INFLIGHT_BYTES (summed over a cluster, as the in-flight gauges). */
  readonly maxInFlightPublishes: Gauge;
  readonly maxInFlightBytes: Gauge;
  readonly httpSeconds: RequestDurationHistogram;
  readonly batchSubmissions: Histogram;
  readonly statsMessagesDropped: Counter;
  readonly brokerConnected: Gauge;
}

export function createGatewayMetrics(options: AppRegistryOptions = {}): GatewayMetrics {
  const registry = createAppRegistry('gateway', options);
  return {
    registry,
    httpSeconds: requestDurationHistogram(registry, 'telemetry_gateway'),
    responses: new Counter({
      name: 'telemetry_gateway_submissions_total',
      help: 'Submission requests answered, by HTTP status',
      labelNames: ['status'],
      registers: [registry],
    }),
    bodyBytes: new Counter({
      name: 'telemetry_gateway_body_bytes_total',
      help: 'Body bytes of accepted submissions, as sent',
      registers: [registry],
    }),
    publishSeconds: new Histogram({
      name: 'telemetry_gateway_publish_seconds',
      help: 'Time from publishing a batch message to its RabbitMQ confirm',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    inFlightPublishes: new Gauge({
      name: 'telemetry_gateway_inflight_publishes',
      help: 'Publishes waiting for a confirm',
      registers: [registry],
    }),
    inFlightBytes: new Gauge({
      name: 'telemetry_gateway_inflight_bytes',
      help: 'Body bytes of accepted submissions waiting for their batch or its confirm',
      registers: [registry],
    }),
    maxInFlightPublishes: new Gauge({
      name: 'telemetry_gateway_max_inflight_publishes',
      help: 'MAX_INFLIGHT_PUBLISHES: publishes waiting for a confirm beyond which submissions get 503',
      registers: [registry],
    }),
    maxInFlightBytes: new Gauge({
      name: 'telemetry_gateway_max_inflight_bytes',
      help: 'MAX_INFLIGHT_BYTES: body bytes waiting for their batch or its confirm beyond which submissions get 503',
      registers: [registry],
    }),
    batchSubmissions: new Histogram({
      name: 'telemetry_gateway_batch_submissions',
      help: 'Submissions framed into one published message',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
    statsMessagesDropped: new Counter({
      name: 'telemetry_gateway_stats_messages_dropped_total',
      help: 'Stats (metadata) messages the broker did not confirm (their counts are lost, the submissions are not)',
      registers: [registry],
    }),
    brokerConnected: new Gauge({
      name: 'telemetry_gateway_broker_connected',
      help: '1 while connected to RabbitMQ (the lowest of a cluster\'s processes)',
      registers: [registry],
      aggregator: 'min',
    }),
  };
}
