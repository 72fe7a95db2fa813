import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly responses: Counter<'status'>;
  readonly bodyBytes: Counter;
  readonly publishSeconds: Histogram;
  readonly inFlightPublishes: Gauge;
  readonly inFlightBytes: Gauge;
  readonly batchSubmissions: Histogram;
  readonly statsMessagesDropped: Counter;
  readonly brokerConnected: Gauge;
}

export function createGatewayMetrics(options: { defaultMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'telemetry_gateway_' });
  return {
    registry,
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
      help: '1 while connected to RabbitMQ',
      registers: [registry],
    }),
  };
}
