import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface GatewayMetrics {
  readonly registry: Registry;
  readonly responses: Counter<'status'>;
  readonly bodyBytes: Counter;
  readonly publishSeconds: Histogram;
  readonly inFlightPublishes: Gauge;
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
      help: 'Time from publish to RabbitMQ confirm',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    inFlightPublishes: new Gauge({
      name: 'telemetry_gateway_inflight_publishes',
      help: 'Publishes waiting for a confirm',
      registers: [registry],
    }),
    brokerConnected: new Gauge({
      name: 'telemetry_gateway_broker_connected',
      help: '1 while connected to RabbitMQ',
      registers: [registry],
    }),
  };
}
